from __future__ import annotations


def customer_args(
    name="Maria Garcia",
    phone="(214) 555-0134",
    email="",
    street="12 Main St",
    city="Dallas",
    state="TX",
    zip_="75201",
    **extra,
) -> dict:
    contacts = [{"kind": "MobilePhone", "value": phone}]
    if email:
        contacts.append({"kind": "Email", "value": email})
    address = {"street": street, "city": city, "state": state, "zip": zip_}
    return {
        "customer": {"name": name, **address, **extra},
        "locations": [dict(address)],
        "contacts": contacts,
    }
