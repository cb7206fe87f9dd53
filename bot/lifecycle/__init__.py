"""The life of a question, from asked to answered or honestly given up; no chat platform."""
