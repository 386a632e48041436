"""The SLO-driven rollout controller and the send path's gate."""
