"""Core (platform-free): how whoknows learns who knows what from what people write.

`chat` turns channel messages (live events, history backfills) into knowledge and ties;
the Slack and Teams adapters only translate their events into its `Said` messages.
"""
