"""Model flavors: how each kind of model is saved in a safe format, loaded and called."""

from loopml.registry.flavors.base import Flavor, flavor_for, flavor_names, get_flavor, register_flavor

__all__ = ["Flavor", "flavor_for", "flavor_names", "get_flavor", "register_flavor"]
