"""Offline checks of the deployment files under deploy/."""
