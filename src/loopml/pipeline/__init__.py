"""loopml.pipeline — see ARCHITECTURE.md."""
