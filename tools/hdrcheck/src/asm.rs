//! Reads the values of the generated `const long long` symbols from gcc's assembly output.

use std::collections::BTreeMap;

/// Symbol → value for every `NAME:` label followed by `.quad VALUE` (or `.space 8`, which is how
/// a zero may be emitted).
pub fn values(asm: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut label: Option<&str> = None;
    for line in asm.lines().map(str::trim) {
        if let Some(name) = line.strip_suffix(':') {
            label = Some(name);
            continue;
        }
        let Some(name) = label else { continue };
        if let Some(v) = line.strip_prefix(".quad") {
            if let Ok(v) = v.trim().parse::<i64>() {
                out.insert(name.to_owned(), v);
            }
            label = None;
        } else if line == ".space\t8" || line == ".space 8" {
            out.insert(name.to_owned(), 0);
            label = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::values;

    #[test]
    fn reads_quads_zeros_and_negatives() {
        let asm = "\t.globl\thdrcheck_0\n\t.section .rdata,\"dr\"\n\t.align 8\nhdrcheck_0:\n\t.quad\t40\n\
                   hdrcheck_1:\n\t.quad\t-1073676276\nhdrcheck_2:\n\t.space 8\n.LC0:\n\t.ascii \"x\"\n";
        let v = values(asm);
        assert_eq!(v["hdrcheck_0"], 40);
        assert_eq!(v["hdrcheck_1"], -1_073_676_276);
        assert_eq!(v["hdrcheck_2"], 0);
        assert_eq!(v.len(), 3);
    }
}
