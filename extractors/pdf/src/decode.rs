//! Stream filters, decoded within the decompression budget.

use std::io::{self, Write};

use p8sync_extractor_sdk::{Budget, BudgetReader, ExtractError};
use pdf_extract::{Dictionary, Object};

/// The size `data` decodes to through `filters` (in order), charged to `budget`; only the
/// intermediate layers are kept in memory, the last one is counted as it streams past, so a
/// bomb costs its budget in time, not in memory. `Ok(None)` when a filter is one we leave alone
/// (image codecs, run-length, crypt): pdf-extract never needs those for text.
pub fn measure(
    data: &[u8],
    filters: &[Vec<u8>],
    params: Option<&Dictionary>,
    budget: &Budget,
    what: &str,
) -> Result<Option<u64>, ExtractError> {
    Ok(run(data, filters, params, budget, what, None)?.map(|(size, _)| size))
}

/// The bytes `data` decodes to through `filters`, in a buffer of `capacity` (what [`measure`]
/// said). Not charged: measure first. `None` for the filters [`measure`] leaves alone. Damaged
/// data decodes to what could be recovered, as lopdf does.
pub fn decode(
    data: &[u8],
    filters: &[Vec<u8>],
    params: Option<&Dictionary>,
    capacity: u64,
) -> Option<Vec<u8>> {
    let unlimited = Budget::new(u64::MAX);
    let capacity = usize::try_from(capacity).unwrap_or(0);
    run(data, filters, params, &unlimited, "", Some(capacity))
        .ok()
        .flatten()
        .map(|(_, bytes)| bytes)
}

/// Decodes through every filter, keeping the last layer (in a buffer of `keep` bytes) or only
/// counting it.
fn run(
    data: &[u8],
    filters: &[Vec<u8>],
    params: Option<&Dictionary>,
    budget: &Budget,
    what: &str,
    keep: Option<usize>,
) -> Result<Option<(u64, Vec<u8>)>, ExtractError> {
    if filters.is_empty() || !filters.iter().all(|f| supported(f)) {
        return Ok(None);
    }
    let mut current: Option<Vec<u8>> = None;
    for (i, filter) in filters.iter().enumerate() {
        let last = i + 1 == filters.len();
        let input = current.as_deref().unwrap_or(data);
        let out = match (last, keep) {
            (false, _) => Some(Vec::new()),
            (true, Some(capacity)) => Some(Vec::with_capacity(capacity)),
            (true, None) => None,
        };
        let mut sink = Charged {
            out,
            count: 0,
            budget,
            what,
        };
        let predicted = match filter.as_slice() {
            b"FlateDecode" | b"Fl" => {
                inflate(input, &mut sink)?;
                true
            }
            b"LZWDecode" | b"LZW" => {
                lzw(input, params, &mut sink)?;
                true
            }
            b"ASCII85Decode" | b"A85" => {
                sink.put(&ascii85(input))?;
                false
            }
            b"ASCIIHexDecode" | b"AHx" => {
                sink.put(&ascii_hex(input))?;
                false
            }
            _ => return Ok(None),
        };
        let count = sink.count;
        let mut out = sink.out.unwrap_or_default();
        if predicted {
            out = predict(out, params);
        }
        if last {
            return Ok(Some((count, out)));
        }
        current = Some(out);
    }
    Ok(None)
}

fn supported(filter: &[u8]) -> bool {
    matches!(
        filter,
        b"FlateDecode"
            | b"Fl"
            | b"LZWDecode"
            | b"LZW"
            | b"ASCII85Decode"
            | b"A85"
            | b"ASCIIHexDecode"
            | b"AHx"
    )
}

fn limit_of(err: &io::Error) -> Option<ExtractError> {
    BudgetReader::<()>::limit_error(err)
}

/// Where a filter's output goes: charged to the budget, counted, and kept or not.
struct Charged<'a> {
    out: Option<Vec<u8>>,
    count: u64,
    budget: &'a Budget,
    what: &'a str,
}

impl Charged<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), ExtractError> {
        self.write_all(bytes)
            .map_err(|err| limit_of(&err).unwrap_or_else(|| ExtractError::limit(err.to_string())))
    }
}

impl Write for Charged<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.budget
            .charge(buf.len() as u64, self.what)
            .map_err(io::Error::other)?;
        self.count += buf.len() as u64;
        if let Some(out) = &mut self.out {
            out.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// zlib, or raw deflate when the zlib wrapper is broken (as lopdf falls back).
fn inflate(input: &[u8], sink: &mut Charged<'_>) -> Result<(), ExtractError> {
    if let Err(err) = io::copy(&mut flate2::read::ZlibDecoder::new(input), sink) {
        if let Some(limit) = limit_of(&err) {
            return Err(limit);
        }
        if sink.count == 0
            && input.len() > 2
            && let Err(err) = io::copy(&mut flate2::read::DeflateDecoder::new(&input[2..]), sink)
            && let Some(limit) = limit_of(&err)
        {
            return Err(limit);
        }
    }
    Ok(())
}

fn lzw(
    input: &[u8],
    params: Option<&Dictionary>,
    sink: &mut Charged<'_>,
) -> Result<(), ExtractError> {
    use weezl::{BitOrder, decode::Decoder};
    let early_change = params
        .and_then(|p| p.get(b"EarlyChange").ok())
        .and_then(|v| v.as_i64().ok())
        .is_none_or(|v| v != 0);
    let mut decoder = if early_change {
        Decoder::with_tiff_size_switch(BitOrder::Msb, 8)
    } else {
        Decoder::new(BitOrder::Msb, 8)
    };
    let result = decoder.into_stream(&mut *sink).decode_all(input);
    if let Err(err) = result.status
        && let Some(limit) = limit_of(&err)
    {
        return Err(limit);
    }
    Ok(())
}

/// PNG predictors (10-15), which only ever shrink the data; other predictors are left as
/// lopdf leaves them.
fn predict(data: Vec<u8>, params: Option<&Dictionary>) -> Vec<u8> {
    let Some(params) = params else {
        return data;
    };
    let get =
        |key: &[u8], default: i64| params.get(key).and_then(Object::as_i64).unwrap_or(default);
    if !(10..=15).contains(&get(b"Predictor", 1)) {
        return data;
    }
    let columns = get(b"Columns", 1).clamp(1, 1 << 20) as usize;
    let colors = get(b"Colors", 1).clamp(1, 64) as usize;
    let bits = get(b"BitsPerComponent", 8).clamp(8, 16) as usize;
    let bytes_per_pixel = colors * bits / 8;
    pdf_extract::filters::png::decode_frame(&data, bytes_per_pixel, columns).unwrap_or(data)
}

fn ascii_hex(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 2);
    let mut high: Option<u8> = None;
    for &b in input {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b'>' => break,
            _ => continue,
        };
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.push(h << 4);
    }
    out
}

fn ascii85(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 4 / 5 + 4);
    let mut group = [0u32; 5];
    let mut n = 0usize;
    for &b in input {
        match b {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = u32::from(b - b'!');
                n += 1;
                if n == 5 {
                    let v = group
                        .iter()
                        .fold(0u32, |acc, &d| acc.wrapping_mul(85).wrapping_add(d));
                    out.extend_from_slice(&v.to_be_bytes());
                    n = 0;
                }
            }
            _ => {}
        }
    }
    if n > 1 {
        for d in group.iter_mut().skip(n) {
            *d = 84;
        }
        let v = group
            .iter()
            .fold(0u32, |acc, &d| acc.wrapping_mul(85).wrapping_add(d));
        out.extend_from_slice(&v.to_be_bytes()[..n - 1]);
    }
    out
}

/// lopdf inflates object streams and cross-reference streams while it loads the file, before
/// we can intervene; so find them in the raw bytes first and inflate them within the budget
/// (keeping nothing), refusing the file if they blow it.
pub fn prescan_object_streams(bytes: &[u8], budget: &Budget) -> Result<(), ExtractError> {
    let mut at = 0;
    while let Some(found) = find(bytes, b"stream", at) {
        at = found + b"stream".len();
        if found >= 3 && &bytes[found - 3..found] == b"end" {
            continue;
        }
        let data_start = match bytes.get(at..at + 2) {
            Some([b'\r', b'\n']) => at + 2,
            Some([b'\n', _]) | Some([b'\r', _]) => at + 1,
            _ => continue,
        };
        // The dictionary: back to the closest `obj` keyword (at most 64 KiB back).
        let floor = found.saturating_sub(64 * 1024);
        let Some(dict_start) = rfind(&bytes[floor..found], b"obj").map(|i| floor + i) else {
            continue;
        };
        let dict = &bytes[dict_start..found];
        if find(dict, b"/ObjStm", 0).is_none() && find(dict, b"/XRef", 0).is_none() {
            continue;
        }
        let data_end = find(bytes, b"endstream", data_start).unwrap_or(bytes.len());
        let data = &bytes[data_start..data_end];
        let filters = raw_filters(dict);
        let what = format!("the PDF's object stream at byte {dict_start}");
        measure(data, &filters, None, budget, &what)?;
        at = data_end;
    }
    Ok(())
}

/// The names in a raw dictionary's `/Filter` entry (`/FlateDecode` or `[/A85 /FlateDecode]`).
fn raw_filters(dict: &[u8]) -> Vec<Vec<u8>> {
    let Some(at) = find(dict, b"/Filter", 0) else {
        return Vec::new();
    };
    let rest = &dict[at + b"/Filter".len()..];
    let rest = rest.trim_ascii_start();
    let section = if rest.first() == Some(&b'[') {
        let end = rest.iter().position(|&b| b == b']').unwrap_or(rest.len());
        &rest[1..end]
    } else {
        // One name: up to the next delimiter after it.
        let end = rest
            .iter()
            .skip(1)
            .position(|&b| b"/<>[]() \r\n\t".contains(&b))
            .map_or(rest.len(), |i| i + 1);
        &rest[..end]
    };
    section
        .split(|&b| b == b'/')
        .map(|name| name.trim_ascii().to_vec())
        .filter(|name| !name.is_empty())
        .collect()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_filters() {
        assert_eq!(ascii_hex(b"48 65 6c6C6f>"), b"Hello");
        assert_eq!(ascii_hex(b"486>"), b"H`");
        assert_eq!(ascii85(b"87cURD]i,\"Ebo80~>"), b"Hello World!");
        assert_eq!(ascii85(b"z~>"), [0, 0, 0, 0]);
    }

    #[test]
    fn raw_filter_names() {
        assert_eq!(
            raw_filters(b"<< /Type /ObjStm /Filter /FlateDecode /N 3 >>"),
            vec![b"FlateDecode".to_vec()]
        );
        assert_eq!(
            raw_filters(b"<</Filter[/FlateDecode /FlateDecode]>>"),
            vec![b"FlateDecode".to_vec(), b"FlateDecode".to_vec()]
        );
        assert!(raw_filters(b"<< /Length 5 >>").is_empty());
    }

    #[test]
    fn inflate_charges_the_budget() {
        use flate2::{Compression, write::ZlibEncoder};
        let zlib = |data: &[u8]| {
            let mut enc = ZlibEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        };
        let z = zlib(&vec![b' '; 4 << 20]);
        let flate = [b"FlateDecode".to_vec()];
        let budget = Budget::new(1 << 20);
        let err = measure(&z, &flate, None, &budget, "stream 7 0 R").unwrap_err();
        assert!(err.is_limit(), "{err}");
        assert!(err.message().contains("stream 7 0 R"), "{err}");

        let budget = Budget::new(8 << 20);
        let size = measure(&z, &flate, None, &budget, "s").unwrap().unwrap();
        assert_eq!(size, 4 << 20);
        assert_eq!(budget.used(), 4 << 20);
        let out = decode(&z, &flate, None, size).unwrap();
        assert_eq!(out.len(), 4 << 20);
        assert_eq!(out.capacity(), 4 << 20);
        assert_eq!(budget.used(), 4 << 20, "decoding is not charged again");
        let dct = [b"DCTDecode".to_vec()];
        assert!(measure(&z, &dct, None, &budget, "s").unwrap().is_none());

        // Two layers: the inner one is kept (and charged), the outer one only counted.
        let zz = zlib(&z);
        let two = [b"FlateDecode".to_vec(), b"FlateDecode".to_vec()];
        let budget = Budget::new(16 << 20);
        let size = measure(&zz, &two, None, &budget, "s").unwrap().unwrap();
        assert_eq!(size, 4 << 20);
        assert_eq!(budget.used(), (4 << 20) + z.len() as u64);
        assert_eq!(decode(&zz, &two, None, size).unwrap(), vec![b' '; 4 << 20]);
    }
}
