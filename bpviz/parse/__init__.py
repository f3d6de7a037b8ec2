"""Front ends: expression programs and YAML specs, each producing a Graph."""
