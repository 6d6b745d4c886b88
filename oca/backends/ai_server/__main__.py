from oca.backends.ai_server.server import main

main()
