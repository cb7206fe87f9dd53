"""The Slack adapter: a Bolt app over the platform-neutral question lifecycle.

`app.SlackBot` wires it together; `server.serve` runs it (HTTP or Socket Mode);
`directory_sync` imports the workspace's people and channel memberships.
"""
