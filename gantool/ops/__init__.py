"""Small tensor operations shared by networks and backbones."""
