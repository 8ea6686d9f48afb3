//! Search on both backends: stemming and prefixes, relevance, filters,
//! sorts, facets, and pagination that neither repeats nor skips while
//! products are being added.

mod support;

use catalog::search::Sort;
use catalog::service::{SearchPage, SearchRequest};
use std::collections::BTreeSet;
use support::{Catalog, catalogs};

fn request(text: Option<&str>) -> SearchRequest {
    SearchRequest {
        text: text.map(str::to_owned),
        category: None,
        min_price: None,
        max_price: None,
        in_stock: false,
        sort: None,
        after: None,
        limit: 50,
    }
}

fn names(page: &SearchPage) -> Vec<String> {
    page.items.iter().map(|p| p.name.clone()).collect()
}

fn shop(c: &Catalog) -> (String, String, String) {
    let audio = c.category("Audio", "audio", None);
    let headphones = c.category("Headphones", "headphones", Some(&audio));
    let kitchen = c.category("Kitchen", "kitchen", None);
    c.product("WH-1000XM4", "Wireless Headphones", "Noise cancelling over-ear.", 34900, 5, Some(&headphones));
    c.product("EB-200", "Sport Earbuds", "Wireless earbuds for running.", 7900, 0, Some(&headphones));
    c.product("SPK-10", "Bluetooth Speaker", "A speaker that pairs with headphones.", 4900, 12, Some(&audio));
    c.product("KTL-1", "Electric Kettle", "Boils water quickly.", 2900, 3, Some(&kitchen));
    (audio, headphones, kitchen)
}

#[test]
fn stemming_and_prefixes_find_products() {
    for c in catalogs() {
        shop(&c);
        let found = c.service.search(request(Some("headphone"))).expect("search");
        assert!(names(&found).contains(&"Wireless Headphones".to_owned()), "{}: {:?}", c.label(), names(&found));
        let prefix = c.service.search(request(Some("wirel"))).expect("search");
        let mut prefixed = names(&prefix);
        prefixed.sort();
        assert_eq!(prefixed, vec!["Sport Earbuds", "Wireless Headphones"], "{}", c.label());
        let sku = c.service.search(request(Some("wh-1000xm4"))).expect("search");
        assert_eq!(names(&sku), vec!["Wireless Headphones"], "{}", c.label());
        let both = c.service.search(request(Some("wireless earbuds"))).expect("search");
        assert_eq!(names(&both), vec!["Sport Earbuds"], "{}: every word must match", c.label());
        let none = c.service.search(request(Some("toaster"))).expect("search");
        assert!(none.items.is_empty());
        let hostile = c
            .service
            .search(request(Some("\"headphones\" OR * NEAR( -x '; DROP TABLE products;")))
            .expect("no syntax errors");
        assert!(hostile.items.is_empty(), "{}", c.label());
    }
}

#[test]
fn name_matches_rank_above_description_matches() {
    for c in catalogs() {
        shop(&c);
        let page = c.service.search(request(Some("headphones"))).expect("search");
        // The name match first; the speaker only mentions headphones.
        assert_eq!(names(&page), vec!["Wireless Headphones", "Bluetooth Speaker"], "{}", c.label());
        assert_eq!(page.sort, Sort::Relevance);
    }
}

#[test]
fn filters_and_sorts_combine() {
    for c in catalogs() {
        let (audio, _, kitchen) = shop(&c);
        let in_audio =
            c.service.search(SearchRequest { category: Some("audio".into()), ..request(None) }).expect("search");
        assert_eq!(in_audio.items.len(), 3, "{}: descendants included", c.label());
        let by_id = c.service.search(SearchRequest { category: Some(audio.clone()), ..request(None) }).expect("search");
        assert_eq!(by_id.items.len(), 3);
        let kitchen_only =
            c.service.search(SearchRequest { category: Some(kitchen), ..request(None) }).expect("search");
        assert_eq!(names(&kitchen_only), vec!["Electric Kettle"]);

        let cheap_audio_in_stock = c
            .service
            .search(SearchRequest {
                category: Some("audio".into()),
                max_price: Some(10000),
                in_stock: true,
                ..request(None)
            })
            .expect("search");
        assert_eq!(names(&cheap_audio_in_stock), vec!["Bluetooth Speaker"], "{}", c.label());

        let ascending =
            c.service.search(SearchRequest { sort: Some(Sort::PriceAsc), ..request(None) }).expect("search");
        let prices: Vec<i64> = ascending.items.iter().map(|p| p.price.amount).collect();
        assert_eq!(prices, vec![2900, 4900, 7900, 34900]);
        let descending = c
            .service
            .search(SearchRequest { sort: Some(Sort::PriceDesc), min_price: Some(4900), ..request(None) })
            .expect("search");
        let prices: Vec<i64> = descending.items.iter().map(|p| p.price.amount).collect();
        assert_eq!(prices, vec![34900, 7900, 4900]);
        let newest = c.service.search(SearchRequest { sort: Some(Sort::Newest), ..request(None) }).expect("search");
        assert_eq!(newest.items[0].name, "Electric Kettle");
        assert!(c.service.search(SearchRequest { category: Some("nope".into()), ..request(None) }).is_err());
    }
}

#[test]
fn facets_count_matches_per_category() {
    for c in catalogs() {
        shop(&c);
        let page = c
            .service
            .search(SearchRequest { category: Some("kitchen".into()), ..request(Some("wireless")) })
            .expect("search");
        assert!(page.items.is_empty(), "nothing wireless in the kitchen");
        // Facets ignore the category filter, so they show where the matches are.
        let facets: Vec<(String, i64)> = page.facets.iter().map(|f| (f.slug.clone(), f.count)).collect();
        assert_eq!(facets, vec![("headphones".to_owned(), 2)], "{}", c.label());
    }
}

#[test]
fn archived_products_leave_search_but_stay_readable() {
    for c in catalogs() {
        shop(&c);
        let kettle = c.service.search(request(Some("kettle"))).expect("search").items.remove(0);
        c.service.archive_product(kettle.id).expect("archive");
        assert!(c.service.search(request(Some("kettle"))).expect("search").items.is_empty(), "{}", c.label());
        let still = c.service.product(kettle.id).expect("readable by id");
        assert!(still.archived && !still.active);
    }
}

#[test]
fn renaming_a_product_updates_the_index_in_the_same_transaction() {
    for c in catalogs() {
        shop(&c);
        let kettle = c.service.search(request(Some("kettle"))).expect("search").items.remove(0);
        c.service
            .update_product(
                kettle.id,
                catalog::service::ProductChanges { name: Some("Gooseneck Pourer".into()), ..Default::default() },
            )
            .expect("rename");
        assert!(c.service.search(request(Some("kettle"))).expect("search").items.is_empty(), "{}", c.label());
        assert_eq!(names(&c.service.search(request(Some("gooseneck"))).expect("search")), vec!["Gooseneck Pourer"]);
    }
}

/// Pages through every sort while new products keep arriving: each product
/// that existed when paging began is seen exactly once.
#[test]
fn pagination_neither_repeats_nor_skips_while_products_are_added() {
    for c in catalogs() {
        for n in 0..23 {
            c.product(
                &format!("PG-{n:03}"),
                &format!("Pager Lamp {n}"),
                "A lamp for paging.",
                1000 + (n % 5) * 100,
                1,
                None,
            );
        }
        let existing: BTreeSet<String> = c
            .service
            .search(SearchRequest { limit: 100, ..request(None) })
            .expect("all")
            .items
            .iter()
            .map(|p| p.sku.clone())
            .collect();
        assert_eq!(existing.len(), 23);
        for (sort, text) in
            [(Sort::Newest, None), (Sort::PriceAsc, None), (Sort::PriceDesc, None), (Sort::Relevance, Some("lamp"))]
        {
            let mut seen = Vec::new();
            let mut after = None;
            let mut added = 0;
            loop {
                let page = c
                    .service
                    .search(SearchRequest { sort: Some(sort), after, limit: 4, ..request(text) })
                    .expect("page");
                seen.extend(page.items.iter().map(|p| p.sku.clone()));
                // Someone adds a product between every two pages.
                c.product(
                    &format!("NEW-{}-{added}", sort.as_str().replace('_', "")),
                    &format!("New Lamp {added}"),
                    "lamp",
                    1200,
                    1,
                    None,
                );
                added += 1;
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            let unique: BTreeSet<String> = seen.iter().cloned().collect();
            assert_eq!(unique.len(), seen.len(), "{} {sort:?}: a product was repeated", c.label());
            assert!(existing.is_subset(&unique), "{} {sort:?}: a product was skipped", c.label());
        }
    }
}
