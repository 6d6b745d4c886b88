from oca.cli.app import main

main()
