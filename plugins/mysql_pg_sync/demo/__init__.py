"""The demo: a small CodeIgniter-style MySQL schema with realistic types, and the run that syncs it."""
