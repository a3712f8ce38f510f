"""ModelFactory trainer."""
