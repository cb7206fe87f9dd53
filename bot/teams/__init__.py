"""The Microsoft Teams adapter: whoknows' question lifecycle over the Microsoft 365 Agents
SDK. `server.serve` runs it; `handlers/` turns Teams activities into core inputs;
`deliverer.TeamsDeliverer` turns the core's intents into Teams messages and cards."""
