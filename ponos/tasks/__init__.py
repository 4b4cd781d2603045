"""
The programs tasks run (console scripts): a process's initialisation, a file import and a
repository import. They talk to the server only through its HTTP API with their task token, so
that they run wherever an agent runs them, in any image: the standard library only, nothing of
Django nor of the server.
"""
