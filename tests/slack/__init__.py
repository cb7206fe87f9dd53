"""Tests of the Slack adapter, against a local double of Slack."""
