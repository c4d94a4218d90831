"""Byte counts for people: 27.1 KB, 5.3 MB."""


def human_size(n: int) -> str:
    """Return a byte count in B, KB, MB or GB (powers of 1000)."""
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
