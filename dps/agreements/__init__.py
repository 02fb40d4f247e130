"""DPS agreements (each under one regime) and their categories (lots)."""
