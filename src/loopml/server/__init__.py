"""loopml.server — see ARCHITECTURE.md."""
