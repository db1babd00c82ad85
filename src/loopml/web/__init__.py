"""HTTP pieces shared by the platform server (:mod:`loopml.server`) and the model server
(:mod:`loopml.serving`): nothing here knows either app."""
