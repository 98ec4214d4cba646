"""Provider types and the wire formats that speak to them."""
