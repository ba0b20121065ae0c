"""End-to-end tests of the sync: a real portal over HTTPS, a real practice server and the
real job process, each with its own database (SPEC S1–S13, P6)."""
