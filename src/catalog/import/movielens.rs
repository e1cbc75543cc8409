//! The MovieLens file formats, read once for both of their users: the import, which loads them
//! as courses, learners and dated enrolments, and the offline evaluation
//! (`crate::recommend::eval`), which must see the same interactions.
//!
//! - Ratings: `user item rating timestamp`, tab- or space-separated (MovieLens `u.data`), or
//!   RecBole's `.inter` with its `user_id:token item_id:token …` header.
//! - Items: MovieLens `u.item` (`id|title|release date|video date|url|` and 19 genre flags,
//!   Latin-1), or RecBole's `.item` (tab-separated, a typed header, genres space-separated in
//!   `class`). Titles lose control characters and are cut to the catalog's length limit; genres
//!   become tags the catalog accepts (`Sci-Fi` → `sci-fi`, `Children's` → `childrens`).

use std::collections::HashMap;
use std::io::BufRead;

use crate::catalog::domain::{CourseTitle, Tags};

/// Why a MovieLens file could not be read; parse errors name the line.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file could not be read (or a ratings line is not UTF-8).
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
    /// A line is malformed.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// One parsed interaction with dense user and item indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// Index into [`Ratings::user_keys`].
    pub user: u32,
    /// Index into [`Ratings::item_keys`].
    pub item: u32,
    /// The rating as given (MovieLens: 1–5).
    pub rating: f32,
    /// Unix seconds (fractional timestamps are rounded).
    pub at: i64,
}

/// A whole data set: ratings in file order, ids mapped to `0..users` and `0..items` in order of
/// first appearance.
#[derive(Debug)]
pub struct Ratings {
    /// Every rating, in file order.
    pub ratings: Vec<Rating>,
    /// Number of distinct users (the length of `user_keys`).
    pub users: usize,
    /// Number of distinct items (the length of `item_keys`).
    pub items: usize,
    /// The file's user id of each dense user index: the import names accounts after it.
    pub user_keys: Vec<String>,
    /// The file's item id of each dense item index: the import keys courses by it and finds
    /// its title and genres in the items file.
    pub item_keys: Vec<String>,
}

/// Reads MovieLens-format interactions: `user item rating timestamp` separated by tabs or
/// spaces (MovieLens `u.data`), ids taken as tokens. A first line whose rating is not a number
/// is a header and skipped (RecBole's `user_id:token item_id:token rating:float ...`);
/// blank lines are skipped; anything else malformed is an error naming its line.
pub fn parse_ratings(input: impl BufRead) -> Result<Ratings, ParseError> {
    let mut users = Keys::default();
    let mut items = Keys::default();
    let mut ratings = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        let number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let error = |message: String| ParseError::Parse {
            line: number,
            message,
        };
        let [user, item, rating, at] = fields[..] else {
            return Err(error(format!(
                "expected 4 fields (user item rating timestamp), found {}",
                fields.len()
            )));
        };
        let Ok(rating) = rating.parse::<f32>() else {
            if number == 1 {
                continue; // a header
            }
            return Err(error(format!("rating {rating:?} is not a number")));
        };
        let at = match at.parse::<f64>() {
            Ok(at) if at.is_finite() && rating.is_finite() => at.round() as i64,
            _ => return Err(error(format!("timestamp {at:?} is not a finite number"))),
        };
        ratings.push(Rating {
            user: users.index(user),
            item: items.index(item),
            rating,
            at,
        });
    }
    Ok(Ratings {
        ratings,
        users: users.keys.len(),
        items: items.keys.len(),
        user_keys: users.keys,
        item_keys: items.keys,
    })
}

/// Tokens numbered densely in order of first appearance.
#[derive(Default)]
struct Keys {
    index: HashMap<String, u32>,
    keys: Vec<String>,
}

impl Keys {
    fn index(&mut self, key: &str) -> u32 {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.index.insert(key.to_owned(), i);
        self.keys.push(key.to_owned());
        i
    }
}

/// What an items file says about one item, cleaned for the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The file's item id (the key ratings refer to it by).
    pub key: String,
    /// Its title with the year, as MovieLens writes it (`Toy Story (1995)`), without control
    /// characters and at most [`CourseTitle::MAX_CHARS`] long; `None` when the file has none.
    pub title: Option<String>,
    /// Its genres as tags the catalog accepts, at most [`Tags::MAX_COUNT`].
    pub tags: Vec<String>,
}

/// An items file: items in file order, findable by key.
#[derive(Debug, Default)]
pub struct Items {
    items: Vec<Item>,
    by_key: HashMap<String, usize>,
}

impl Items {
    /// The item with this key, if the file lists it.
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.by_key.get(key).map(|&i| &self.items[i])
    }

    /// Every item, in file order (items nobody rated become courses too).
    pub fn iter(&self) -> impl Iterator<Item = &Item> {
        self.items.iter()
    }
}

/// The 19 genre flags of `u.item`, in file order (MovieLens's `u.genre`).
const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// The two item-file layouts.
enum Layout {
    /// `u.item`: `|`-separated, no header.
    MovieLens,
    /// RecBole `.item`: the position of each known column in the header.
    RecBole {
        columns: usize,
        id: usize,
        title: Option<usize>,
        year: Option<usize>,
        genres: Option<usize>,
    },
}

/// Reads an items file, MovieLens `u.item` or RecBole `.item`, told apart by the first line
/// (RecBole's is a tab-separated header of `name:type` columns). Each line is decoded as UTF-8
/// when it is valid UTF-8 and as Latin-1 otherwise (`u.item` is Latin-1, RecBole's file
/// UTF-8). Blank lines are skipped; malformed lines and repeated ids are errors naming the line.
pub fn parse_items(mut input: impl BufRead) -> Result<Items, ParseError> {
    let mut items = Items::default();
    let mut layout = None;
    let mut raw = Vec::new();
    let mut number = 0;
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        number += 1;
        let line = decode(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| ParseError::Parse {
            line: number,
            message,
        };
        let layout = match &layout {
            Some(layout) => layout,
            None => {
                let found = detect(line).map_err(error)?;
                let header = matches!(found, Layout::RecBole { .. });
                let found = layout.insert(found);
                if header {
                    continue;
                }
                found
            }
        };
        let item = match layout {
            Layout::MovieLens => movielens_item(line),
            Layout::RecBole {
                columns,
                id,
                title,
                year,
                genres,
            } => {
                let fields: Vec<&str> = line.split('\t').collect();
                if fields.len() != *columns {
                    Err(format!(
                        "expected {columns} tab-separated fields as in the header, found {}",
                        fields.len()
                    ))
                } else {
                    let field = |i: &Option<usize>| i.map_or("", |i| fields[i]);
                    let year = field(year).trim();
                    let title = field(title).trim();
                    let title = if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) {
                        format!("{title} ({year})")
                    } else {
                        title.to_owned()
                    };
                    Ok(item(fields[*id], &title, field(genres).split_whitespace()))
                }
            }
        }
        .map_err(error)?;
        if item.key.is_empty() {
            return Err(error("the item id is empty".into()));
        }
        if items.by_key.contains_key(&item.key) {
            return Err(error(format!("item {:?} is listed twice", item.key)));
        }
        items.by_key.insert(item.key.clone(), items.items.len());
        items.items.push(item);
    }
    Ok(items)
}

/// UTF-8 when valid, Latin-1 (every byte the code point of the same value) otherwise.
fn decode(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(text) => text.to_owned(),
        Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Decides the layout from the first line.
fn detect(line: &str) -> Result<Layout, String> {
    let first = line.split('\t').next().unwrap_or_default();
    if line.contains('\t') && first.contains(':') {
        let names: Vec<&str> = line
            .split('\t')
            .map(|c| c.split(':').next().unwrap_or_default().trim())
            .collect();
        let find = |name: &str| names.iter().position(|n| *n == name);
        let id = find("item_id").ok_or("the RecBole header has no item_id column")?;
        return Ok(Layout::RecBole {
            columns: names.len(),
            id,
            title: find("movie_title"),
            year: find("release_year"),
            genres: find("class"),
        });
    }
    if line.contains('|') {
        return Ok(Layout::MovieLens);
    }
    Err("neither a MovieLens u.item line (id|title|…) nor a RecBole .item header".into())
}

/// One `u.item` line: id, title, release date, video date, URL, then the genre flags.
fn movielens_item(line: &str) -> Result<Item, String> {
    let fields: Vec<&str> = line.split('|').collect();
    if fields.len() != 5 + GENRES.len() {
        return Err(format!(
            "expected {} |-separated fields (id|title|release|video|url and {} genre flags), \
             found {}",
            5 + GENRES.len(),
            GENRES.len(),
            fields.len()
        ));
    }
    let mut genres = Vec::new();
    for (flag, genre) in fields[5..].iter().zip(GENRES) {
        match flag.trim() {
            "0" => {}
            "1" => genres.push(genre),
            other => return Err(format!("genre flag {other:?} of {genre} is not 0 or 1")),
        }
    }
    Ok(item(fields[0], fields[1], genres.into_iter()))
}

/// An item with its title cleaned and its genres turned into tags.
fn item<'a>(key: &str, title: &str, genres: impl Iterator<Item = &'a str>) -> Item {
    let mut tags: Vec<String> = Vec::new();
    for tag in genres.filter_map(genre_tag) {
        if !tags.contains(&tag) && tags.len() < Tags::MAX_COUNT {
            tags.push(tag);
        }
    }
    Item {
        key: key.trim().to_owned(),
        title: clean_title(title),
        tags,
    }
}

/// The title without control characters (NUL included; tabs and line breaks become spaces),
/// trimmed and cut to the catalog's limit; `None` when nothing is left.
fn clean_title(raw: &str) -> Option<String> {
    let text: String = raw
        .chars()
        .filter_map(|c| match c {
            c if c.is_whitespace() => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let text: String = text.trim().chars().take(CourseTitle::MAX_CHARS).collect();
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A genre as a catalog tag: lower-case ASCII letters and digits, words joined by single
/// hyphens, at most [`Tags::MAX_CHARS`]. Latin-1 letters lose their accents (`é` → `e`),
/// apostrophes and other letters are dropped inside words (`Children's` → `childrens`);
/// MovieLens's placeholders for "no genre" give none.
fn genre_tag(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("unknown") || raw.eq_ignore_ascii_case("(no genres listed)") {
        return None;
    }
    let mut tag = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            tag.push(c);
        } else if let Some(ascii) = unaccented(c) {
            tag.push_str(ascii);
        } else if c == '\'' || c == '’' || c.is_alphanumeric() {
            // inside a word: dropped
        } else if !tag.is_empty() && !tag.ends_with('-') {
            tag.push('-');
        }
    }
    tag.truncate(Tags::MAX_CHARS);
    let tag = tag.trim_end_matches('-');
    Tags::parse_one(tag).ok()
}

/// The ASCII spelling of a lower-case Latin-1 letter with a diacritic (or a ligature).
fn unaccented(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è'..='ë' => "e",
        'ì'..='ï' => "i",
        'ð' => "d",
        'ñ' => "n",
        'ò'..='ö' | 'ø' => "o",
        'ù'..='ü' => "u",
        'ý' | 'ÿ' => "y",
        'þ' => "th",
        'ß' => "ss",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(bytes: &[u8]) -> Result<Items, String> {
        parse_items(bytes).map_err(|e| e.to_string())
    }

    fn flags(on: &[usize]) -> String {
        (0..GENRES.len())
            .map(|i| if on.contains(&i) { "1" } else { "0" })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn ratings_keep_the_files_ids() {
        let Ok(data) = parse_ratings("7\t42\t4\t10\n8\t42\t2\t11\n7\tx\t5\t12\n".as_bytes()) else {
            panic!("valid input")
        };
        assert_eq!(data.user_keys, ["7", "8"]);
        assert_eq!(data.item_keys, ["42", "x"]);
        assert_eq!((data.users, data.items), (2, 2));
        assert_eq!(data.ratings[2].item, 1);
    }

    #[test]
    fn ratings_edge_cases() {
        // Blank lines and a RecBole header are skipped; spaces separate as well as tabs.
        let text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\n1 2 3.5 9.6\n";
        let Ok(data) = parse_ratings(text.as_bytes()) else {
            panic!("header is skipped")
        };
        assert_eq!(data.ratings.len(), 1);
        assert_eq!((data.ratings[0].rating, data.ratings[0].at), (3.5, 10));
        // A header anywhere but the first line is a bad rating, named by its line.
        for (text, start) in [
            ("1\t2\t3\t4\nuser\titem\trating\ttime\n", "line 2: rating"),
            ("1\t2\tNaN\t4\n", "line 1: timestamp"),
            ("1\t2\t3\tinf\n", "line 1: timestamp"),
            ("\n\n1\t2\n", "line 3: expected 4 fields"),
        ] {
            let message = parse_ratings(text.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string());
            let Err(message) = message else {
                panic!("{text:?} parsed")
            };
            assert!(message.starts_with(start), "{message}");
        }
        // Not UTF-8: a read error, not a panic.
        assert!(matches!(
            parse_ratings(&b"1\t2\t3\t\xff\n"[..]),
            Err(ParseError::Io(_))
        ));
    }

    #[test]
    fn movielens_items_are_latin1_with_genre_flags() {
        let mut file = format!(
            "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{}\n",
            flags(&[3, 4, 5])
        )
        .into_bytes();
        file.extend_from_slice(b"543|Mis\xe9rables, Les (1995)|01-Jan-1995||http://x|");
        file.extend_from_slice(flags(&[8, 12]).as_bytes());
        file.extend_from_slice(b"\r\n\n267|unknown||||");
        file.extend_from_slice(flags(&[0]).as_bytes());
        file.extend_from_slice(b"\n9|\x00Blade\tRunner\x07 |||x|");
        file.extend_from_slice(flags(&[1, 15, 16]).as_bytes());
        let parsed = items(&file);
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(parsed.iter().count(), 4);
        let toy = parsed.get("1");
        assert_eq!(
            toy.map(|i| (i.title.as_deref(), i.tags.clone())),
            Some((
                Some("Toy Story (1995)"),
                vec!["animation".into(), "childrens".into(), "comedy".into()]
            ))
        );
        let les = parsed.get("543").and_then(|i| i.title.as_deref());
        assert_eq!(les, Some("Misérables, Les (1995)"));
        let unknown = parsed.get("267");
        assert_eq!(
            unknown.map(|i| (i.title.as_deref(), i.tags.len())),
            Some((Some("unknown"), 0)),
            "the unknown genre is no tag"
        );
        let blade = parsed.get("9");
        assert_eq!(
            blade.map(|i| (i.title.as_deref(), i.tags.clone())),
            Some((
                Some("Blade Runner"),
                vec!["action".into(), "sci-fi".into(), "thriller".into()]
            )),
            "control characters go"
        );
        let keys: Vec<&str> = parsed.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["1", "543", "267", "9"]);
    }

    #[test]
    fn recbole_items_have_a_header_and_genre_words() {
        let file = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n\
                    1\tToy Story\t1995\tAnimation Children's Comedy\n\
                    543\tMisérables, Les\t1995\tDrama Musical\n\
                    267\tunkonwn\tunkonwn\tunknown\n\
                    5\t\t\tFilm-Noir Sci-Fi Film-Noir\n";
        let parsed = items(file.as_bytes());
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(parsed.iter().count(), 4);
        let title = |k: &str| parsed.get(k).and_then(|i| i.title.clone());
        assert_eq!(title("1").as_deref(), Some("Toy Story (1995)"), "as u.item");
        assert_eq!(title("543").as_deref(), Some("Misérables, Les (1995)"));
        assert_eq!(title("267").as_deref(), Some("unkonwn"), "no year");
        assert_eq!(title("5"), None);
        let tags = parsed.get("5").map(|i| i.tags.clone());
        assert_eq!(tags, Some(vec!["film-noir".into(), "sci-fi".into()]));
    }

    #[test]
    fn malformed_item_lines_are_errors_naming_the_line() {
        let good = format!("1|A|||x|{}\n", flags(&[]));
        for (text, start) in [
            (format!("{good}2|B|||x|0|1\n"), "line 2: expected 24"),
            (
                format!("{good}\n{}", good.replace("|0|", "|yes|")),
                "line 3: genre flag",
            ),
            (
                format!("{good}{good}"),
                "line 2: item \"1\" is listed twice",
            ),
            (
                format!("{good}|B|||x|{}\n", flags(&[])),
                "line 2: the item id is empty",
            ),
            ("just words\n".to_owned(), "line 1: neither"),
            (
                "name:token\ttitle:token\n".to_owned(),
                "line 1: the RecBole header has no",
            ),
            (
                "item_id:token\tclass:token_seq\n1\tDrama\textra\n".to_owned(),
                "line 2: expected 2 tab-separated",
            ),
        ] {
            let message = items(text.as_bytes()).map(|_| ());
            let Err(message) = message else {
                panic!("{text:?} parsed")
            };
            assert!(message.starts_with(start), "{message}");
        }
    }

    #[test]
    fn titles_and_tags_respect_the_catalog_limits() {
        let long = "x".repeat(CourseTitle::MAX_CHARS + 50);
        let title = clean_title(&format!("  {long}  "));
        assert_eq!(
            title.map(|t| t.chars().count()),
            Some(CourseTitle::MAX_CHARS)
        );
        assert!(CourseTitle::parse(&"é".repeat(CourseTitle::MAX_CHARS)).is_ok());
        assert_eq!(clean_title("\0\u{1b}\u{9f} "), None);

        assert_eq!(genre_tag("Sci-Fi").as_deref(), Some("sci-fi"));
        assert_eq!(genre_tag("Children's").as_deref(), Some("childrens"));
        assert_eq!(
            genre_tag("  Film_Noir / IMAX ").as_deref(),
            Some("film-noir-imax")
        );
        assert_eq!(
            genre_tag("Ciencia ficción").as_deref(),
            Some("ciencia-ficcion")
        );
        assert_eq!(genre_tag("Ænigma ΔΔ").as_deref(), Some("aenigma"));
        assert_eq!(genre_tag("(no genres listed)"), None);
        assert_eq!(genre_tag("---"), None);
        let long = genre_tag(&"word ".repeat(20));
        assert!(
            long.as_ref()
                .is_some_and(|t| t.len() <= Tags::MAX_CHARS && !t.ends_with('-'))
        );
        let many: Vec<String> = (0..15).map(|i| format!("genre{i}")).collect();
        let capped = item("1", "T", many.iter().map(String::as_str));
        assert_eq!(capped.tags.len(), Tags::MAX_COUNT);
        assert!(Tags::parse(&capped.tags).is_ok());
    }
}
