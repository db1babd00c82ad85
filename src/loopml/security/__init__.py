"""loopml.security — see ARCHITECTURE.md."""
