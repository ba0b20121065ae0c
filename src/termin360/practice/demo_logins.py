"""The demo's staff logins (no Django import: the demo launcher prints them)."""

DEMO_LOGINS = [
    ("empfang", "empfang-demo", "Empfang"),
    ("praxis-admin", "admin-demo", "Praxis-Administration"),
]
