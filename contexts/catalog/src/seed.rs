//! Generated catalogs: a small realistic demo shop, and N products for
//! benchmarks.

use crate::domain::{Sku, Slug};
use crate::service::{CatalogError, CatalogService, NewProduct};
use kernel::{Currency, Money};

const DEMO: &[(&str, &str, Option<&str>)] = &[
    ("Audio", "audio", None),
    ("Headphones", "headphones", Some("audio")),
    ("Speakers", "speakers", Some("audio")),
    ("Computing", "computing", None),
    ("Laptops", "laptops", Some("computing")),
    ("Keyboards", "keyboards", Some("computing")),
    ("Home", "home", None),
    ("Kitchen", "kitchen", Some("home")),
    ("Lighting", "lighting", Some("home")),
];

const ADJECTIVES: &[&str] =
    &["Wireless", "Compact", "Premium", "Portable", "Ergonomic", "Silent", "Smart", "Classic", "Rugged", "Slim"];
const NOUNS: &[(&str, &str)] = &[
    ("Headphones", "headphones"),
    ("Earbuds", "headphones"),
    ("Bluetooth Speaker", "speakers"),
    ("Soundbar", "speakers"),
    ("Laptop", "laptops"),
    ("Ultrabook", "laptops"),
    ("Mechanical Keyboard", "keyboards"),
    ("Keyboard", "keyboards"),
    ("Coffee Grinder", "kitchen"),
    ("Kettle", "kitchen"),
    ("Desk Lamp", "lighting"),
    ("LED Strip", "lighting"),
];
const COLOURS: &[&str] = &["black", "white", "silver", "blue", "red", "green"];

/// Creates the demo category tree (if missing) and `count` products spread
/// over it, with stock. Deterministic: product `n` is always the same.
pub fn seed_products(service: &CatalogService, count: usize, first: usize) -> Result<usize, CatalogError> {
    let tree = service.category_tree()?;
    let mut ids = std::collections::BTreeMap::new();
    fn collect(nodes: &[crate::service::CategoryNode], ids: &mut std::collections::BTreeMap<String, String>) {
        for node in nodes {
            ids.insert(node.slug.clone(), node.id.clone());
            collect(&node.children, ids);
        }
    }
    collect(&tree, &mut ids);
    for (name, slug, parent) in DEMO {
        if !ids.contains_key(*slug) {
            let parent_id = parent.and_then(|p| ids.get(p).cloned());
            let node = service.create_category(
                (*name).to_owned(),
                Slug::parse(slug).map_err(|e| CatalogError::Internal(e.to_string()))?,
                parent_id,
            )?;
            ids.insert((*slug).to_owned(), node.id);
        }
    }
    let eur = Currency::parse("EUR").map_err(|e| CatalogError::Internal(e.to_string()))?;
    for n in first..first + count {
        let adjective = ADJECTIVES[n % ADJECTIVES.len()];
        let (noun, category) = NOUNS[(n / ADJECTIVES.len()) % NOUNS.len()];
        let colour = COLOURS[n % COLOURS.len()];
        let mut attributes = serde_json::Map::new();
        attributes.insert("colour".into(), colour.into());
        service.create_product(NewProduct {
            sku: Sku::parse(&format!("TND-{n:07}")).map_err(|e| CatalogError::Internal(e.to_string()))?,
            name: format!("{adjective} {noun} {}", n % 1000),
            description: format!(
                "A {} {} in {colour}. Model {n}, built to last, with a two-year warranty.",
                adjective.to_lowercase(),
                noun.to_lowercase()
            ),
            price: Money::new(((n * 7919) % 50_000 + 499) as i64, eur),
            category_id: ids.get(category).cloned(),
            images: vec![],
            attributes,
            active: true,
            initial_stock: (n % 40) as i64,
        })?;
    }
    Ok(count)
}
