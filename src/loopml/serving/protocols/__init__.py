"""Protocol adapters: each parses its wire format, calls the data plane once, renders the answer."""
