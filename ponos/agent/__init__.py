"""
What runs on an agent's host: the agent process and its slots (`process`, started by
`manage.py ponos_agent`), the RQ job a slot runs for each task (`execution`), the ways a command
runs (`executors`: local or Docker) and the streaming of its log (`log_stream`). It reads and
writes the scheduler's tables directly, through the server's models and scheduler functions, and
imports nothing of the API.
"""
