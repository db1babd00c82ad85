"""Deployments: routes (primary, canary, shadows, A/B, ensembles), rollout policies and release gates.

Pure domain code: no HTTP and no serving imports. The model server executes the routing and feeds
:class:`Observations` back; the gates and the rollout state machine decide.
"""
