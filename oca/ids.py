"""Service ids as upstream makes them: 8 lowercase letters, consonant/vowel alternating."""

import secrets

CONSONANTS = "bcdfghklmnpqrstvwxyz"
VOWELS = "aeiou"


def new_id(length: int = 8) -> str:
    return "".join(
        secrets.choice(CONSONANTS if i % 2 == 0 else VOWELS) for i in range(length)
    )
