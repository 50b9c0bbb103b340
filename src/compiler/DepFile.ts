/** Pure reading of a make dependency file (what -MD writes): the files the compile read. */
export const parseDepFile = (text: string): Array<string> => {
  // Join continuation lines; keep escaped spaces as part of a name.
  const joined = text.replace(/\\\r?\n/g, " ")
  const out: Array<string> = []
  for (const line of joined.split(/\r?\n/)) {
    const colon = line.search(/:(\s|$)/)
    if (colon < 0) continue
    const deps = line.slice(colon + 1).match(/(?:\\.|[^\s\\])+/g) ?? []
    for (const d of deps) out.push(d.replace(/\\(.)/g, "$1").replace(/\$\$/g, "$"))
  }
  // -MP adds a phony rule per header: the same names again.
  return [...new Set(out)]
}
