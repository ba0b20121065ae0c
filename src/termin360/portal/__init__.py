"""The online booking portal (betty24 in the source document). Built in a later issue."""
