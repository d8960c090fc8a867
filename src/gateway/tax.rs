//! Tax of a gateway price, computed as WooCommerce 11 computes it for a customer at the
//! shop's base address (the editor knows no customer address).
//!
//! **Which rates.** Like `WC_Tax::get_matched_tax_rates`: the rates of the item's tax class
//! (`standard` when the class is empty or `parent`) whose country and state are the base
//! address's or empty, and whose postcodes (exact, `*` wildcards, `min...max` ranges, in the
//! base country's postcode format) and cities match the base address, or that name neither.
//! They are sorted by priority, then a named country before an empty one, a named state
//! before an empty one, more location matches first, then by id; the first rate of each
//! priority applies.
//!
//! **How much.** Like `WC_Tax::calc_exclusive_tax` / `calc_inclusive_tax` and the cart's
//! `WC_Cart_Totals` for one unit: prices entered without tax get each non-compound rate on
//! the price and each compound rate on the price plus the taxes before it; prices entered
//! with tax have the compound rates taken out first (last one first), then the non-compound
//! ones in proportion to their rates. Each rate's tax is kept at WooCommerce's internal
//! precision (the price decimals + 2, at least 6) and then, unless the shop rounds at
//! subtotal level, rounded to the price decimals per rate (half up for prices without tax,
//! half down for prices with tax, as `WC_TAX_ROUNDING_MODE`), and the rounded taxes are
//! summed; with `woocommerce_tax_round_at_subtotal` the sum is rounded once. With tax
//! entered, the net is the price less the unrounded taxes, rounded half up. Gross is net plus
//! tax (for one rate with tax entered, the price as entered). Amounts are computed in exact
//! fixed point, not in PHP's floating point.

use std::cmp::Ordering;

use crate::woo::catalog::parse_minor_units;
use crate::woo::rest::{GeneralSettings, TaxRate};

/// Fixed point of the computation: 10⁻¹² of a minor unit.
const SCALE_DIGITS: u32 = 12;
const SCALE: i128 = 10i128.pow(SCALE_DIGITS);
/// A rate in percent × 10 000 is a fraction of `RATE_ONE` (`100 %` = 1 000 000).
const RATE_ONE: i128 = 1_000_000;

/// An address taxes are matched against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166 code, upper case.
    pub country: String,
    /// State code, upper case, `""` when none.
    pub state: String,
    pub postcode: String,
    pub city: String,
}

impl Location {
    /// The shop's base address from its general settings: `woocommerce_default_country`
    /// (`GB:ENG` is country `GB`, state `ENG`), `woocommerce_store_postcode`,
    /// `woocommerce_store_city`.
    pub fn base_of(general: &GeneralSettings) -> Location {
        let value = |id: &str| general.value(id).unwrap_or("").trim().to_owned();
        let default_country = value("woocommerce_default_country");
        let (country, state) = default_country
            .split_once(':')
            .unwrap_or((default_country.as_str(), ""));
        Location {
            country: country.trim().to_uppercase(),
            state: state.trim().to_uppercase(),
            postcode: value("woocommerce_store_postcode"),
            city: value("woocommerce_store_city"),
        }
    }
}

/// The shop's tax settings and rates, as read through its REST API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopTax {
    /// `woocommerce_calc_taxes`: without it WooCommerce charges no tax.
    pub enabled: bool,
    /// `woocommerce_prices_include_tax` (only with taxes enabled, as `wc_prices_include_tax`).
    pub prices_include_tax: bool,
    /// `woocommerce_tax_round_at_subtotal`.
    pub round_at_subtotal: bool,
    /// The shop's base address.
    pub base: Location,
    /// Every rate of every class.
    pub rates: Vec<TaxRate>,
}

impl ShopTax {
    /// Whether the general settings enable taxes (`woocommerce_calc_taxes`).
    pub fn enabled_in(general: &GeneralSettings) -> bool {
        general
            .value("woocommerce_calc_taxes")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"))
    }

    /// Reads the settings: taxes enabled in `general`, the tax group in `tax` (absent when
    /// taxes are off), and the rates.
    pub fn from_settings(
        general: &GeneralSettings,
        tax: Option<&GeneralSettings>,
        rates: Vec<TaxRate>,
    ) -> ShopTax {
        let yes = |s: Option<&GeneralSettings>, id: &str| {
            s.and_then(|s| s.value(id))
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"))
        };
        let enabled = ShopTax::enabled_in(general);
        ShopTax {
            enabled,
            prices_include_tax: enabled && yes(tax, "woocommerce_prices_include_tax"),
            round_at_subtotal: yes(tax, "woocommerce_tax_round_at_subtotal"),
            base: Location::base_of(general),
            rates,
        }
    }
}

/// One rate applied to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRate {
    /// The WooCommerce rate id (0 for a configured rate).
    pub id: i64,
    /// Percent × 10 000 (`20%` = 200 000).
    pub rate_e4: i64,
    pub name: String,
    pub compound: bool,
}

impl AppliedRate {
    /// A rate from `/taxes`; `None` when its rate is not a non-negative number.
    fn from_shop(r: &TaxRate) -> Option<AppliedRate> {
        let rate_e4 = parse_minor_units(&r.rate, 4).filter(|v| *v >= 0)?;
        let name = match r.name.trim() {
            "" => format!("Tax {}%", percent_text(rate_e4)),
            n => n.to_owned(),
        };
        Some(AppliedRate {
            id: r.id,
            rate_e4,
            name,
            compound: r.compound,
        })
    }
}

/// `200000` → `"20"`, `77000` → `"7.7"`.
pub fn percent_text(rate_e4: i64) -> String {
    let whole = rate_e4 / 10_000;
    let frac = (rate_e4 % 10_000).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:04}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The rates that apply to an item of tax class `class` (a slug; `""` is standard) at the
/// shop's base address: at most one per priority, in WooCommerce's order.
pub fn matched_rates(tax: &ShopTax, class: &str) -> Vec<AppliedRate> {
    // WooCommerce finds no rate without a base country.
    if !tax.enabled || tax.base.country.is_empty() {
        return Vec::new();
    }
    let class = match class.trim() {
        "" | "parent" => "standard",
        c => c,
    };
    let base = &tax.base;
    let wildcards = wildcard_postcodes(&base.postcode, &base.country);
    let mut found: Vec<(&TaxRate, usize)> = tax
        .rates
        .iter()
        .filter(|r| r.class.trim().eq_ignore_ascii_case(class))
        .filter(|r| same_or_any(&r.country, &base.country) && same_or_any(&r.state, &base.state))
        .filter_map(|r| location_rows(r, base, &wildcards).map(|rows| (r, rows)))
        .collect();
    found.sort_by(rate_order);
    let mut priorities = Vec::new();
    let mut out = Vec::new();
    for (r, _) in found {
        if priorities.contains(&r.priority) {
            continue;
        }
        priorities.push(r.priority);
        out.extend(AppliedRate::from_shop(r));
    }
    out
}

fn same_or_any(rate_value: &str, base_value: &str) -> bool {
    let v = rate_value.trim();
    v.is_empty() || v.eq_ignore_ascii_case(base_value)
}

/// `WC_Tax::sort_rates_callback`: priority, a named country first, a named state first,
/// more matching location rows first, then id.
fn rate_order(a: &(&TaxRate, usize), b: &(&TaxRate, usize)) -> Ordering {
    let named_first = |x: &str, y: &str| match (x.trim(), y.trim()) {
        (x, y) if x == y => Ordering::Equal,
        ("", _) => Ordering::Greater,
        (_, "") => Ordering::Less,
        (x, y) => x.cmp(y),
    };
    a.0.priority
        .cmp(&b.0.priority)
        .then_with(|| named_first(&a.0.country, &b.0.country))
        .then_with(|| named_first(&a.0.state, &b.0.state))
        .then_with(|| b.1.cmp(&a.1))
        .then_with(|| a.0.id.cmp(&b.0.id))
}

fn listed(many: &[String], one: &str) -> Vec<String> {
    let from_list: Vec<String> = many
        .iter()
        .map(|s| s.trim().to_uppercase())
        .filter(|s| !s.is_empty() && s != "*")
        .collect();
    if !from_list.is_empty() {
        return from_list;
    }
    one.split(';')
        .map(|s| s.trim().to_uppercase())
        .filter(|s| !s.is_empty() && s != "*")
        .collect()
}

/// Whether the rate's postcodes and cities let it apply at `base`, and how many rows
/// WooCommerce's location join counts for it (its sort key): `None` when it does not apply.
fn location_rows(rate: &TaxRate, base: &Location, wildcards: &[String]) -> Option<usize> {
    let postcodes = listed(&rate.postcodes, &rate.postcode);
    let cities = listed(&rate.cities, &rate.city);
    let city = base.city.trim().to_uppercase();
    let cities_matching = cities.iter().filter(|c| **c == city).count();
    if postcodes.is_empty() {
        if cities.is_empty() {
            return Some(0);
        }
        return (cities_matching > 0).then_some(cities_matching * cities.len());
    }
    let postcode = normalize_postcode(&base.postcode);
    let postcodes_matching = postcodes
        .iter()
        .filter(|p| postcode_matches(p, &postcode, wildcards))
        .count();
    let others = if cities.is_empty() {
        postcodes.len()
    } else {
        cities_matching
    };
    (postcodes_matching > 0 && others > 0).then_some(postcodes_matching * others)
}

fn postcode_matches(stored: &str, postcode: &str, wildcards: &[String]) -> bool {
    match stored.split_once("...") {
        Some((min, max)) => in_postcode_range(postcode, min.trim(), max.trim()),
        None => wildcards.iter().any(|w| w == stored),
    }
}

/// `wc_normalize_postcode`: upper case without spaces and dashes.
pub fn normalize_postcode(p: &str) -> String {
    p.trim()
        .to_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// Inserts `ins` at character `pos` (negative: from the end), clamped like PHP's
/// `substr_replace` with length 0.
fn insert_at(s: &str, pos: isize, ins: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as isize;
    let at = if pos < 0 {
        (len + pos).max(0)
    } else {
        pos.min(len)
    } as usize;
    let mut out: String = chars[..at].iter().collect();
    out.push_str(ins);
    out.extend(&chars[at..]);
    out
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `wc_format_postcode` of a normalized postcode.
pub fn format_postcode(normalized: &str, country: &str) -> String {
    let p = normalized;
    let prefixed = |code: &str| {
        let rest = p.strip_prefix(code).unwrap_or(p);
        all_digits(rest).then(|| format!("{code}-{rest}"))
    };
    let out = match country {
        "SE" => insert_at(p, -2, " "),
        "CA" | "GB" => insert_at(p, -3, " "),
        "IE" => insert_at(p, 3, " "),
        "BR" | "PL" => insert_at(p, -3, "-"),
        "JP" => insert_at(p, 3, "-"),
        "PT" => insert_at(p, 4, "-"),
        "PR" | "US" | "MN" => insert_at(p, 5, "-").trim_end_matches('-').to_owned(),
        "NL" => insert_at(p, 4, " "),
        "LV" => prefixed("LV").unwrap_or_else(|| p.to_owned()),
        "CZ" | "SK" => {
            let with_code = match p.strip_prefix(country) {
                Some(rest) if all_digits(rest) => format!("{country}-{rest}"),
                _ => p.to_owned(),
            };
            insert_at(&with_code, -2, " ")
        }
        "DK" => match p.strip_prefix("DK") {
            Some(rest) if !rest.is_empty() => format!("DK-{rest}"),
            _ => p.to_owned(),
        },
        _ => p.to_owned(),
    };
    out.trim().to_owned()
}

/// `wc_get_wildcard_postcodes`: the postcode, its formatted form, that form with `*`, and
/// each shorter prefix of it with `*`.
pub fn wildcard_postcodes(postcode: &str, country: &str) -> Vec<String> {
    let normalized = normalize_postcode(postcode);
    let formatted = format_postcode(&normalized, country);
    let chars: Vec<char> = formatted.chars().collect();
    let mut out = vec![normalized, formatted.clone(), format!("{formatted}*")];
    for i in 0..chars.len() {
        let prefix: String = chars[..chars.len() - (i + 1)].iter().collect();
        out.push(format!("{prefix}*"));
    }
    out
}

/// `wc_make_numeric_postcode`: each character as two digits (letters A=01 … Z=26).
fn numeric_postcode(p: &str) -> String {
    p.chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| match c {
            '0'..='9' => format!("0{c}"),
            'A'..='Z' => format!("{:02}", c as u32 - 'A' as u32 + 1),
            _ => "00".to_owned(),
        })
        .collect()
}

/// Compares digit strings as numbers.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A `min...max` postcode range as `wc_postcode_location_matcher` checks it: numerically,
/// after turning non-numeric bounds (and the postcode) into digits padded to its length.
fn in_postcode_range(postcode: &str, min: &str, max: &str) -> bool {
    if all_digits(min) && all_digits(max) {
        if !all_digits(postcode) {
            return postcode >= min && postcode <= max;
        }
        return cmp_numeric(postcode, min).is_ge() && cmp_numeric(postcode, max).is_le();
    }
    let compare = numeric_postcode(postcode);
    let pad = |bound: &str| {
        let mut n = numeric_postcode(bound);
        while n.len() < compare.len() {
            n.push('0');
        }
        n
    };
    cmp_numeric(&compare, &pad(min)).is_ge() && cmp_numeric(&compare, &pad(max)).is_le()
}

/// What an item's tax is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRule {
    /// The rates that apply, in WooCommerce's order (none: no tax).
    pub rates: Vec<AppliedRate>,
    /// Whether the item's price is entered with tax.
    pub prices_include_tax: bool,
    /// Whether tax is rounded once (at subtotal level) instead of per rate.
    pub round_at_subtotal: bool,
}

impl TaxRule {
    /// The rates' names as the editor shows them (`taxRate`): joined with ` + `, or
    /// `No tax`.
    pub fn name(&self) -> String {
        if self.rates.is_empty() {
            return "No tax".to_owned();
        }
        self.rates
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// Net, tax and gross of one unit, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amounts {
    pub net: i64,
    pub tax: i64,
    pub gross: i64,
}

#[derive(Clone, Copy)]
enum Half {
    Up,
    Down,
}

/// `n / d` rounded to the nearest integer, ties by `half` (away from / towards zero).
fn div_round(n: i128, d: i128, half: Half) -> i128 {
    let (q, r) = (n / d, n % d);
    let twice = 2 * r.abs();
    let away = match half {
        Half::Up => twice >= d.abs(),
        Half::Down => twice > d.abs(),
    };
    if away { q + n.signum() * d.signum() } else { q }
}

/// `WC_Tax::round`: to the internal precision (price decimals + 2, at least 6, of a minor
/// unit here at most the fixed point's 12).
fn internal_round(v: i128, decimals: u32) -> i128 {
    let precision = (decimals + 2).clamp(6, SCALE_DIGITS);
    let step = 10i128.pow(SCALE_DIGITS - precision);
    div_round(v, step, Half::Up) * step
}

/// The unrounded tax of each rate on `price` (fixed point), as `calc_exclusive_tax` or
/// `calc_inclusive_tax` compute it.
fn rate_taxes(price: i128, rule: &TaxRule) -> Option<Vec<i128>> {
    let mut taxes = vec![0i128; rule.rates.len()];
    if rule.prices_include_tax {
        let mut rest = price;
        for (i, r) in rule
            .rates
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, r)| r.compound)
        {
            let rate = i128::from(r.rate_e4);
            taxes[i] = div_round(rest.checked_mul(rate)?, RATE_ONE + rate, Half::Up);
            rest -= taxes[i];
        }
        let regular: i128 = rule
            .rates
            .iter()
            .filter(|r| !r.compound)
            .map(|r| i128::from(r.rate_e4))
            .sum();
        for (i, r) in rule.rates.iter().enumerate().filter(|(_, r)| !r.compound) {
            let share = rest.checked_mul(i128::from(r.rate_e4))?;
            taxes[i] = div_round(share, RATE_ONE + regular, Half::Up);
        }
    } else {
        for (i, r) in rule.rates.iter().enumerate().filter(|(_, r)| !r.compound) {
            taxes[i] = div_round(
                price.checked_mul(i128::from(r.rate_e4))?,
                RATE_ONE,
                Half::Up,
            );
        }
        for (i, r) in rule.rates.iter().enumerate().filter(|(_, r)| r.compound) {
            let base = price.checked_add(taxes.iter().sum())?;
            taxes[i] = div_round(base.checked_mul(i128::from(r.rate_e4))?, RATE_ONE, Half::Up);
        }
    }
    Some(taxes)
}

/// Net, tax and gross of one unit priced `price_minor` (as entered in the shop) under
/// `rule`, with `decimals` price decimals; `None` when the amounts do not fit.
pub fn amounts(price_minor: i64, rule: &TaxRule, decimals: u32) -> Option<Amounts> {
    let price = i128::from(price_minor).checked_mul(SCALE)?;
    let taxes: Vec<i128> = rate_taxes(price, rule)?
        .into_iter()
        .map(|t| internal_round(t, decimals))
        .collect();
    let half = if rule.prices_include_tax {
        Half::Down
    } else {
        Half::Up
    };
    let tax = if rule.round_at_subtotal {
        div_round(taxes.iter().sum(), SCALE, half)
    } else {
        taxes.iter().map(|t| div_round(*t, SCALE, half)).sum()
    };
    let net = if rule.prices_include_tax {
        div_round(price - taxes.iter().sum::<i128>(), SCALE, Half::Up)
    } else {
        i128::from(price_minor)
    };
    let net = i64::try_from(net).ok()?;
    let tax = i64::try_from(tax).ok()?;
    Some(Amounts {
        net,
        tax,
        gross: net.checked_add(tax)?,
    })
}

/// The expected amounts are what WooCommerce 11.0.1's own `WC_Tax::calc_tax` and
/// `wc_round_tax_total` give for the same prices and rates.
#[cfg(test)]
mod tests {
    use super::*;

    fn rate(id: i64, country: &str, state: &str, pct: &str, priority: i64) -> TaxRate {
        TaxRate {
            id,
            country: country.to_owned(),
            state: state.to_owned(),
            rate: pct.to_owned(),
            name: format!("R{id}"),
            priority,
            class: "standard".to_owned(),
            ..TaxRate::default()
        }
    }

    fn shop(base: &str, postcode: &str, city: &str, rates: Vec<TaxRate>) -> ShopTax {
        let (country, state) = base.split_once(':').unwrap_or((base, ""));
        ShopTax {
            enabled: true,
            prices_include_tax: false,
            round_at_subtotal: false,
            base: Location {
                country: country.to_owned(),
                state: state.to_owned(),
                postcode: postcode.to_owned(),
                city: city.to_owned(),
            },
            rates,
        }
    }

    fn ids(rates: &[AppliedRate]) -> Vec<i64> {
        rates.iter().map(|r| r.id).collect()
    }

    fn rule(rates: Vec<AppliedRate>, inclusive: bool, at_subtotal: bool) -> TaxRule {
        TaxRule {
            rates,
            prices_include_tax: inclusive,
            round_at_subtotal: at_subtotal,
        }
    }

    fn applied(id: i64, rate_e4: i64, compound: bool) -> AppliedRate {
        AppliedRate {
            id,
            rate_e4,
            name: format!("R{id}"),
            compound,
        }
    }

    fn amounts_of(price: i64, r: &TaxRule) -> (i64, i64, i64) {
        let a = amounts(price, r, 2).expect("fits");
        (a.net, a.tax, a.gross)
    }

    #[test]
    fn exclusive_and_inclusive_prices() {
        let vat = vec![applied(1, 200_000, false)];
        assert_eq!(
            amounts_of(1000, &rule(vat.clone(), false, false)),
            (1000, 200, 1200)
        );
        assert_eq!(
            amounts_of(1200, &rule(vat.clone(), true, false)),
            (1000, 200, 1200)
        );
        // 9.99 with 20 % inside: the tax is 1.665, rounded half down (prices with tax), the
        // net 8.325 rounded half up, so net + tax is the price entered.
        assert_eq!(
            amounts_of(999, &rule(vat.clone(), true, false)),
            (833, 166, 999)
        );
        // Without tax entered, half up: 0.65 × 7.7 % = 0.05005 → 0.05; 0.25 × 10 % → 0.03.
        assert_eq!(
            amounts_of(65, &rule(vec![applied(1, 77_000, false)], false, false)).1,
            5
        );
        assert_eq!(
            amounts_of(25, &rule(vec![applied(1, 100_000, false)], false, false)).1,
            3
        );
        // No rates, no tax.
        assert_eq!(
            amounts_of(1234, &rule(Vec::new(), true, false)),
            (1234, 0, 1234)
        );
    }

    #[test]
    fn compound_rates_apply_on_top() {
        // 10 % then 5 % compound: 10.00 → 1.00 + 5 % of 11.00.
        let rates = vec![applied(1, 100_000, false), applied(2, 50_000, true)];
        assert_eq!(
            amounts_of(1000, &rule(rates.clone(), false, false)),
            (1000, 155, 1155)
        );
        // Entered with tax: the compound rate is taken out first.
        assert_eq!(
            amounts_of(1155, &rule(rates, true, false)),
            (1000, 155, 1155)
        );
        // Two non-compound rates share an inclusive price in proportion: 12.50 with 20 % and
        // 5 % is 10.00 net, 2.00 + 0.50 tax.
        let two = vec![applied(1, 200_000, false), applied(2, 50_000, false)];
        assert_eq!(amounts_of(1250, &rule(two, true, false)), (1000, 250, 1250));
    }

    #[test]
    fn rounding_per_rate_or_at_subtotal() {
        // 1.05 with two rates of 2.5 %: 2.625 cents each.
        let rates = vec![applied(1, 25_000, false), applied(2, 25_000, false)];
        assert_eq!(amounts_of(105, &rule(rates.clone(), false, false)).1, 6);
        assert_eq!(amounts_of(105, &rule(rates, false, true)).1, 5);
        // At subtotal with tax entered: 9.99 → 1.665 rounds half down once.
        let vat = vec![applied(1, 200_000, false)];
        assert_eq!(amounts_of(999, &rule(vat, true, true)), (833, 166, 999));
        // Zero decimals (e.g. JPY): 1 000 × 8 % = 80; 1 001 × 8 % = 80.08 → 80.
        let jp = rule(vec![applied(1, 80_000, false)], false, false);
        assert_eq!(amounts(1001, &jp, 0).map(|a| a.tax), Some(80));
    }

    #[test]
    fn one_rate_per_priority_country_and_state_first() {
        let rates = vec![
            rate(1, "", "", "10", 1),
            rate(2, "US", "CA", "7.25", 1),
            rate(3, "US", "", "5", 1),
            rate(4, "US", "NY", "8", 2),
            rate(5, "", "", "1", 2),
            rate(6, "DE", "", "19", 3),
        ];
        let s = shop("US:CA", "90210", "Los Angeles", rates);
        let m = matched_rates(&s, "");
        // Priority 1: the rate naming country and state wins; priority 2: NY does not match,
        // the rate for every country does; DE does not match.
        assert_eq!(ids(&m), [2, 5]);
        assert_eq!(m[0].rate_e4, 72_500);
        // A shop with taxes off matches nothing.
        let mut off = s.clone();
        off.enabled = false;
        assert!(matched_rates(&off, "").is_empty());
    }

    #[test]
    fn postcodes_and_cities() {
        let with = |postcodes: &[&str], cities: &[&str]| {
            let mut r = rate(1, "GB", "", "20", 1);
            r.postcodes = postcodes.iter().map(|p| (*p).to_owned()).collect();
            r.cities = cities.iter().map(|c| (*c).to_owned()).collect();
            let s = shop("GB", "sw1a1aa", "London", vec![r]);
            !matched_rates(&s, "standard").is_empty()
        };
        assert!(with(&[], &[]));
        assert!(
            with(&["SW1A 1AA"], &[]),
            "formatted like WooCommerce formats GB"
        );
        assert!(with(&["SW1A1AA"], &[]));
        assert!(with(&["SW1A*"], &[]), "wildcard");
        assert!(with(&["SW*", "E1*"], &["LONDON"]));
        assert!(!with(&["E1*"], &[]));
        assert!(
            !with(&["SW1A*"], &["LEEDS"]),
            "postcode and city must both match"
        );
        assert!(with(&[], &["LONDON"]));
        assert!(!with(&[], &["LEEDS"]));
        // Numeric ranges, and a more specific rate of the same priority first.
        let mut ranged = rate(7, "AT", "", "10", 1);
        ranged.postcodes = vec!["1000...1099".to_owned()];
        let s = shop(
            "AT",
            "1060",
            "Wien",
            vec![rate(2, "AT", "", "20", 1), ranged],
        );
        assert_eq!(ids(&matched_rates(&s, "")), [7]);
        let s = shop("AT", "2000", "Wien", s.rates.clone());
        assert_eq!(ids(&matched_rates(&s, "")), [2]);
    }

    #[test]
    fn classes_fall_back_to_standard() {
        let mut reduced = rate(2, "", "", "10", 1);
        reduced.class = "reduced-rate".to_owned();
        let s = shop("AT", "", "", vec![rate(1, "", "", "20", 1), reduced]);
        assert_eq!(ids(&matched_rates(&s, "")), [1]);
        assert_eq!(ids(&matched_rates(&s, "parent")), [1]);
        assert_eq!(ids(&matched_rates(&s, "standard")), [1]);
        assert_eq!(ids(&matched_rates(&s, "reduced-rate")), [2]);
        assert!(matched_rates(&s, "zero-rate").is_empty());
    }

    #[test]
    fn postcode_formats() {
        assert_eq!(format_postcode("SW1A1AA", "GB"), "SW1A 1AA");
        assert_eq!(format_postcode("902101234", "US"), "90210-1234");
        assert_eq!(format_postcode("90210", "US"), "90210");
        assert_eq!(format_postcode("1234AB", "NL"), "1234 AB");
        assert_eq!(format_postcode("12345", "CZ"), "123 45");
        assert_eq!(format_postcode("1050", "LV"), "LV-1050");
        assert_eq!(
            wildcard_postcodes("ab1", "XX"),
            ["AB1", "AB1", "AB1*", "AB*", "A*", "*"]
        );
        assert!(in_postcode_range("AB5", "AB1", "AB9"));
        assert!(!in_postcode_range("AC1", "AB1", "AB9"));
        assert_eq!(percent_text(200_000), "20");
        assert_eq!(percent_text(77_000), "7.7");
    }
}
