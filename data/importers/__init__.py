"""Importers turn outside formats into validated rows, all or nothing."""
