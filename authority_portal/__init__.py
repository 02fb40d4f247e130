"""The authority portal: authority-facing HTML routes (controllers only; they call dps/ and catalogue/)."""
