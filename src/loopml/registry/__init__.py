"""loopml.registry — see ARCHITECTURE.md."""
