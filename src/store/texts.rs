//! Text values bound to a statement, each allocated once per statement.
//!
//! sqlx's SQLite driver copies every bound `&str` into a new `String` inside a new `Arc`
//! (two allocations) before it hands the arguments to SQLite's thread, which frees them; an
//! `Arc<str>` it binds by reference count. An intake transaction binds about sixty texts per
//! delivery, most of them repeated from row to row (the store id, a job's provider and kind,
//! an item's classification, an outcome), and its allocations were a third of the writer's
//! time (BENCHMARKS.md, tenth round). [`Texts`] hands out one `Arc<str>` per distinct text of
//! a statement. PostgreSQL's driver encodes an `Arc<str>` as the text itself.

use std::collections::HashMap;
use std::sync::Arc;

/// The texts of one statement, by value.
#[derive(Default)]
pub(super) struct Texts<'a> {
    shared: HashMap<&'a str, Arc<str>>,
}

impl<'a> Texts<'a> {
    pub(super) fn new() -> Self {
        Texts::default()
    }

    /// `text` as an `Arc<str>`, the same one for every equal text of this statement.
    pub(super) fn get(&mut self, text: &'a str) -> Arc<str> {
        self.shared
            .entry(text)
            .or_insert_with(|| Arc::from(text))
            .clone()
    }

    /// [`Texts::get`] of a text that may be absent (bound as NULL).
    pub(super) fn opt(&mut self, text: Option<&'a str>) -> Option<Arc<str>> {
        text.map(|t| self.get(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_allocation() {
        let store = String::from("shop");
        let again = String::from("shop");
        let mut texts = Texts::new();
        let first = texts.get(&store);
        let second = texts.get(&again);
        assert_eq!(&*first, "shop");
        assert!(Arc::ptr_eq(&first, &second));
        let other = texts.get("other");
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(texts.opt(None), None);
        assert_eq!(texts.opt(Some("shop")).as_deref(), Some("shop"));
    }
}
