"""Pure portal rules (availability, …). Built in a later issue."""
