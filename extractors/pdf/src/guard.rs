//! Making a loaded document safe for pdf-extract: streams inflated once within the budget,
//! images dropped, page-tree and `/Parent` loops cut, recursive form XObjects defused.

use std::collections::{HashMap, HashSet};

use p8sync_extractor_sdk::{Budget, ExtractError, mib};
use pdf_extract::content::Content;
use pdf_extract::{Dictionary, Document, Object, ObjectId};

use crate::decode::{decode, measure};

/// Form XObjects drawn inside form XObjects deeper than this are not drawn (real files nest a
/// few levels; pdf-extract recurses once per level).
pub const MAX_FORM_DEPTH: usize = 16;
/// More form drawings than this in one document (forms drawing forms drawing forms, each
/// several times: the PDF "billion laughs") and the document is refused.
pub const MAX_DRAWINGS: u64 = 100_000;
/// Page trees deeper than this are cut (lopdf's own walk stops at 256).
const MAX_PAGE_TREE_DEPTH: usize = 64;
/// `/Parent` chains longer than this are cut.
const MAX_PARENT_CHAIN: usize = 256;

/// Prepares `doc` for pdf-extract.
pub fn prepare(doc: &mut Document, budget: &Budget) -> Result<(), ExtractError> {
    let nodes = fix_page_tree(doc);
    fix_parent_chains(doc, &nodes);
    decode_streams(doc, budget)?;
    guard_forms(doc, budget)
}

fn name_of<'a>(dict: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    dict.get(key).and_then(Object::as_name).ok()
}

/// Walks the page tree from the catalog, keeping each node the first time it is listed: a
/// `Kids` entry naming a node already seen (a loop, or the same page listed twice) or lying
/// deeper than [`MAX_PAGE_TREE_DEPTH`] is removed. Returns every node kept.
fn fix_page_tree(doc: &mut Document) -> Vec<ObjectId> {
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .ok()
        .and_then(|id| doc.get_dictionary(id).ok())
        .and_then(|catalog| catalog.get(b"Pages").and_then(Object::as_reference).ok());
    let Some(root) = root else {
        return Vec::new();
    };
    let mut seen = HashSet::from([root]);
    let mut nodes = Vec::new();
    let mut queue = vec![(root, 0usize)];
    while let Some((id, depth)) = queue.pop() {
        nodes.push(id);
        let Ok(dict) = doc.get_dictionary(id) else {
            continue;
        };
        let Some(kids) = dict
            .get(b"Kids")
            .ok()
            .and_then(|kids| doc.dereference(kids).ok())
            .and_then(|(_, kids)| kids.as_array().ok())
        else {
            continue;
        };
        let mut kept = Vec::with_capacity(kids.len());
        let mut children = Vec::new();
        let mut changed = false;
        for kid in kids {
            match kid.as_reference() {
                Ok(kid_id) if depth < MAX_PAGE_TREE_DEPTH && seen.insert(kid_id) => {
                    kept.push(kid.clone());
                    children.push((kid_id, depth + 1));
                }
                Ok(_) => changed = true,
                Err(_) => kept.push(kid.clone()),
            }
        }
        queue.extend(children.into_iter().rev());
        if changed && let Ok(dict) = doc.get_dictionary_mut(id) {
            dict.set("Count", kept.len() as i64);
            dict.set("Kids", Object::Array(kept));
        }
    }
    nodes
}

/// pdf-extract looks up inherited attributes (`MediaBox`, `Resources`) by following `/Parent`
/// recursively; a loop there would recurse forever. Cut each chain where it loops.
fn fix_parent_chains(doc: &mut Document, nodes: &[ObjectId]) {
    let mut sound: HashSet<ObjectId> = HashSet::new();
    for &start in nodes {
        let mut chain = vec![start];
        let mut current = start;
        let mut cut = None;
        loop {
            if sound.contains(&current) {
                break;
            }
            let parent = doc
                .get_dictionary(current)
                .ok()
                .and_then(|d| d.get(b"Parent").and_then(Object::as_reference).ok());
            let Some(parent) = parent else {
                break;
            };
            if chain.contains(&parent) || chain.len() >= MAX_PARENT_CHAIN {
                cut = Some(current);
                break;
            }
            chain.push(parent);
            current = parent;
        }
        if let Some(id) = cut
            && let Ok(dict) = doc.get_dictionary_mut(id)
        {
            dict.remove(b"Parent");
        }
        sound.extend(chain);
    }
}

/// Inflates every stream once and stores it plain, so pdf-extract never inflates anything
/// (it would, without bound, and again at every use). First every stream is measured within
/// the budget, streaming (a bomb costs the budget in time, never in memory), then decoded into
/// a buffer of exactly its size. Image data is dropped: it holds no text, and pdf-extract would
/// only parse it as if it were a content stream.
fn decode_streams(doc: &mut Document, budget: &Budget) -> Result<(), ExtractError> {
    let mut sizes: HashMap<ObjectId, u64> = HashMap::new();
    for (id, object) in &doc.objects {
        let Object::Stream(stream) = object else {
            continue;
        };
        let Some(filters) = stream_filters(stream) else {
            continue;
        };
        let params = stream
            .dict
            .get(b"DecodeParms")
            .and_then(Object::as_dict)
            .ok();
        let what = format!("the PDF's stream {} {} R", id.0, id.1);
        p8sync_extractor_sdk::log::stage(&what);
        if let Some(size) = measure(&stream.content, &filters, params, budget, &what)? {
            sizes.insert(*id, size);
        }
    }
    for (id, object) in doc.objects.iter_mut() {
        let Object::Stream(stream) = object else {
            continue;
        };
        if name_of(&stream.dict, b"Subtype") == Some(b"Image") {
            stream.set_plain_content(Vec::new());
            continue;
        }
        let Some(&size) = sizes.get(id) else {
            continue;
        };
        let Some(filters) = stream_filters(stream) else {
            continue;
        };
        let params = stream
            .dict
            .get(b"DecodeParms")
            .and_then(Object::as_dict)
            .ok();
        p8sync_extractor_sdk::log::stage(&format!("the PDF's stream {} {} R", id.0, id.1));
        if let Some(plain) = decode(&stream.content, &filters, params, size) {
            stream.set_plain_content(plain);
        }
    }
    Ok(())
}

/// The filters of a stream pdf-extract may inflate: not an image, not an object or
/// cross-reference stream (lopdf decoded those while loading).
fn stream_filters(stream: &pdf_extract::Stream) -> Option<Vec<Vec<u8>>> {
    if matches!(name_of(&stream.dict, b"Type"), Some(b"ObjStm" | b"XRef"))
        || name_of(&stream.dict, b"Subtype") == Some(b"Image")
    {
        return None;
    }
    let filters: Vec<Vec<u8>> = stream
        .filters()
        .ok()?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    (!filters.is_empty()).then_some(filters)
}

/// The names drawn with `Do` in a content stream.
fn do_names(content: &[u8]) -> Vec<Vec<u8>> {
    let Ok(content) = Content::decode(content) else {
        return Vec::new();
    };
    content
        .operations
        .iter()
        .filter(|op| op.operator == "Do")
        .filter_map(|op| op.operands.first()?.as_name().ok().map(<[u8]>::to_vec))
        .collect()
}

/// A resource dictionary and who it belongs to (for memoising per context).
#[derive(Clone, Copy)]
struct Resources<'a> {
    dict: &'a Dictionary,
    key: ObjectId,
}

fn own_resources<'a>(
    doc: &'a Document,
    owner: ObjectId,
    dict: &'a Dictionary,
) -> Option<Resources<'a>> {
    let entry = dict.get(b"Resources").ok()?;
    let (id, resolved) = doc.dereference(entry).ok()?;
    Some(Resources {
        dict: resolved.as_dict().ok()?,
        key: id.unwrap_or(owner),
    })
}

/// The page's resources, inherited through `/Parent` as pdf-extract finds them.
fn page_resources(doc: &Document, page: ObjectId) -> Option<Resources<'_>> {
    let mut current = page;
    for _ in 0..MAX_PARENT_CHAIN {
        let dict = doc.get_dictionary(current).ok()?;
        if let Some(found) = own_resources(doc, current, dict) {
            return Some(found);
        }
        current = dict.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

struct Walker<'a> {
    doc: &'a Document,
    /// Drawings below a form (itself included), per form and inherited resources.
    memo: HashMap<(ObjectId, ObjectId), u64>,
    /// `Do` names to remove from a form's content: they recurse or nest too deep.
    cuts: HashMap<ObjectId, HashSet<Vec<u8>>>,
    stack: Vec<ObjectId>,
}

impl<'a> Walker<'a> {
    /// The form XObject `name` names in `resources`, if it is one.
    fn form(&self, resources: Resources<'a>, name: &[u8]) -> Option<ObjectId> {
        let xobjects = resources.dict.get(b"XObject").ok()?;
        let (_, xobjects) = self.doc.dereference(xobjects).ok()?;
        let id = xobjects
            .as_dict()
            .ok()?
            .get(name)
            .and_then(Object::as_reference)
            .ok()?;
        let stream = self.doc.get_object(id).and_then(Object::as_stream).ok()?;
        (name_of(&stream.dict, b"Subtype") == Some(b"Form")).then_some(id)
    }

    /// Drawings `form` makes (itself and, recursively, the forms it draws), cutting the `Do`s
    /// that recurse or nest past [`MAX_FORM_DEPTH`].
    fn visit(&mut self, form: ObjectId, inherited: Resources<'a>, depth: usize) -> u64 {
        let Ok(stream) = self.doc.get_object(form).and_then(Object::as_stream) else {
            return 1;
        };
        let resources = own_resources(self.doc, form, &stream.dict).unwrap_or(inherited);
        let memo_key = (form, resources.key);
        if let Some(&count) = self.memo.get(&memo_key) {
            return count;
        }
        self.stack.push(form);
        let mut count: u64 = 1;
        for name in do_names(&stream.content) {
            let Some(target) = self.form(resources, &name) else {
                continue;
            };
            if self.stack.contains(&target) || depth + 1 >= MAX_FORM_DEPTH {
                self.cuts.entry(form).or_default().insert(name);
                continue;
            }
            count = count.saturating_add(self.visit(target, resources, depth + 1));
            if count > MAX_DRAWINGS {
                break;
            }
        }
        self.stack.pop();
        self.memo.insert(memo_key, count);
        count
    }
}

/// Walks what every page draws: refuses pages whose content streams add up past the budget
/// (one stream listed a million times) and documents whose forms expand past
/// [`MAX_DRAWINGS`]; removes the `Do`s that would recurse.
fn guard_forms(doc: &mut Document, budget: &Budget) -> Result<(), ExtractError> {
    let pages: Vec<ObjectId> = doc.page_iter().collect();
    let mut walker = Walker {
        doc,
        memo: HashMap::new(),
        cuts: HashMap::new(),
        stack: Vec::new(),
    };
    let mut drawings: u64 = 0;
    for (index, &page) in pages.iter().enumerate() {
        let size: u64 = doc
            .get_page_contents(page)
            .iter()
            .filter_map(|&id| doc.get_object(id).and_then(Object::as_stream).ok())
            .map(|s| s.content.len() as u64)
            .sum();
        if size > budget.limit() {
            return Err(ExtractError::limit(format!(
                "decompressed bytes: page {} of the PDF draws {} of content streams, past the {} budget",
                index + 1,
                mib(size),
                mib(budget.limit())
            )));
        }
        let Some(resources) = page_resources(doc, page) else {
            continue;
        };
        let content = doc.get_page_content(page).unwrap_or_default();
        for name in do_names(&content) {
            if let Some(form) = walker.form(resources, &name) {
                drawings = drawings.saturating_add(walker.visit(form, resources, 1));
            }
            if drawings > MAX_DRAWINGS {
                return Err(ExtractError::not_ingestible(format!(
                    "the PDF's form XObjects draw each other more than {MAX_DRAWINGS} times; it is built to exhaust readers"
                )));
            }
        }
    }
    let cuts = walker.cuts;
    for (form, names) in cuts {
        let Ok(stream) = doc.get_object_mut(form).and_then(Object::as_stream_mut) else {
            continue;
        };
        let content = match Content::decode(&stream.content) {
            Ok(mut content) => {
                content.operations.retain(|op| {
                    !(op.operator == "Do"
                        && op
                            .operands
                            .first()
                            .and_then(|o| o.as_name().ok())
                            .is_some_and(|n| names.contains(n)))
                });
                content.encode().unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        stream.set_plain_content(content);
    }
    Ok(())
}
