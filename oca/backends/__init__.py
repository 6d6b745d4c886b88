"""Backend servers oca ships: run as local processes or inside recipe images."""
