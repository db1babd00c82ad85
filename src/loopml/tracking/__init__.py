"""loopml.tracking — see ARCHITECTURE.md."""
