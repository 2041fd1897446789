"""The demo: a small CodeIgniter-style MySQL schema and its end-to-end run."""
