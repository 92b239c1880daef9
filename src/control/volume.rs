//! Grammars of the per-volume control files (SPEC 3.5-3.7): sizes with
//! virsh's units, resize requests, wipe algorithms and wipe progress.

use std::fmt;
use std::str::FromStr;

use super::printable;
use crate::error::Error;

/// Parses a size as virsh reads it: bytes, or an integer with a unit.
/// `k/K/KiB/M/MiB/G/GiB/T/TiB/P/PiB/E/EiB` are powers of 1024,
/// `KB/MB/GB/TB/PB/EB` powers of 1000, `b`/`B` bytes. Letters are case-insensitive.
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let bad = || {
        Error::Invalid(format!(
            "'{}' is not a size (examples: 1048576, 512M, 20G, 1TB)",
            printable(s)
        ))
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let (num, unit) = s.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| Error::TooBig(format!("size '{}' is too large", printable(s))))?;
    let unit = unit.to_ascii_lowercase();
    let mut chars = unit.chars();
    let Some(letter) = chars.next() else {
        return Ok(n);
    };
    let rest = chars.as_str();
    let exp = match letter {
        'b' if rest.is_empty() => return Ok(n),
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return Err(bad()),
    };
    let base: u64 = match rest {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return Err(bad()),
    };
    base.checked_pow(exp)
        .and_then(|m| n.checked_mul(m))
        .ok_or_else(|| Error::TooBig(format!("size '{}' is too large", printable(s))))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Set,
    Grow,
    Shrink,
}

/// A request written to `.vol/<volume>/resize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeRequest {
    pub sign: Sign,
    pub bytes: u64,
    /// The word `shrink`: needed for any new capacity below the current one.
    pub shrink: bool,
    /// The word `allocate`: allocate the new space instead of leaving it sparse.
    pub allocate: bool,
}

impl FromStr for ResizeRequest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut words = s.split_whitespace();
        let size = words.next().ok_or_else(|| {
            Error::Invalid("a resize request needs a size, e.g. 20G, +5G or '-1G shrink'".into())
        })?;
        let (sign, num) = match size.as_bytes().first() {
            Some(b'+') => (Sign::Grow, &size[1..]),
            Some(b'-') => (Sign::Shrink, &size[1..]),
            _ => (Sign::Set, size),
        };
        let mut req = ResizeRequest {
            sign,
            bytes: parse_size(num)?,
            shrink: false,
            allocate: false,
        };
        for w in words {
            let flag = match w {
                "shrink" => &mut req.shrink,
                "allocate" => &mut req.allocate,
                other => {
                    return Err(Error::Invalid(format!(
                        "unknown word '{}' in a resize request: expected shrink or allocate",
                        printable(other)
                    )));
                }
            };
            if *flag {
                return Err(Error::Invalid(format!("'{w}' is given twice")));
            }
            *flag = true;
        }
        Ok(req)
    }
}

impl fmt::Display for ResizeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.sign {
            Sign::Set => "",
            Sign::Grow => "+",
            Sign::Shrink => "-",
        };
        write!(f, "{sign}{}", self.bytes)?;
        if self.shrink {
            f.write_str(" shrink")?;
        }
        if self.allocate {
            f.write_str(" allocate")?;
        }
        Ok(())
    }
}

impl ResizeRequest {
    /// The new capacity from the current one, with every refusal of SPEC 3.5
    /// that needs no I/O: shrink without the word, below zero, beyond `max`.
    pub fn plan(&self, current: u64, max: u64) -> Result<u64, Error> {
        let target = match self.sign {
            Sign::Set => self.bytes,
            Sign::Grow => current
                .checked_add(self.bytes)
                .ok_or_else(|| Error::TooBig("the new capacity overflows".into()))?,
            Sign::Shrink => current.checked_sub(self.bytes).ok_or_else(|| {
                Error::Invalid(format!(
                    "cannot shrink by {} bytes: the capacity is only {current} bytes",
                    self.bytes
                ))
            })?,
        };
        if target < current && !self.shrink {
            return Err(Error::Invalid(
                "can't shrink capacity below current capacity unless the word 'shrink' is given"
                    .into(),
            ));
        }
        if target > max {
            return Err(Error::TooBig(format!(
                "a capacity of {target} bytes is beyond the largest this backend allows ({max})"
            )));
        }
        Ok(target)
    }
}

/// A wipe algorithm written to `.vol/<volume>/wipe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeAlgorithm {
    Zero,
    Random,
    Trim,
}

impl FromStr for WipeAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "" | "zero" => Ok(WipeAlgorithm::Zero),
            "random" => Ok(WipeAlgorithm::Random),
            "trim" => Ok(WipeAlgorithm::Trim),
            other => Err(Error::Invalid(format!(
                "unknown wipe algorithm '{}': expected zero, random or trim",
                printable(other)
            ))),
        }
    }
}

impl fmt::Display for WipeAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WipeAlgorithm::Zero => "zero",
            WipeAlgorithm::Random => "random",
            WipeAlgorithm::Trim => "trim",
        })
    }
}

/// What reading `wipe` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WipeStatus {
    None,
    Running {
        algorithm: WipeAlgorithm,
        percent: u8,
    },
    Done(WipeAlgorithm),
    Failed(String),
}

impl fmt::Display for WipeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WipeStatus::None => writeln!(f, "none"),
            WipeStatus::Running { algorithm, percent } => {
                writeln!(f, "running {percent}% {algorithm}")
            }
            WipeStatus::Done(a) => writeln!(f, "done {a}"),
            WipeStatus::Failed(why) => writeln!(f, "failed {}", why.replace('\n', " ")),
        }
    }
}

/// A request written to `.vol/<volume>/clone`: the clone's name, a new
/// volume at the top of the pool (surrounding white space ignored).
pub fn clone_name(text: &str) -> Result<&str, Error> {
    let name = text.trim();
    if name.is_empty() {
        return Err(Error::Invalid(
            "a clone request is the new volume's name, e.g. vm2.img".into(),
        ));
    }
    if name.contains('/') || name == "." || name == ".." {
        return Err(Error::Invalid(format!(
            "'{}' is not a volume name at the top of the pool",
            printable(name)
        )));
    }
    if name.len() > 255 {
        return Err(Error::Sys {
            what: format!(
                "a volume name is at most 255 bytes ('{}...' is {})",
                printable(&name[..name.floor_char_boundary(40)]),
                name.len()
            ),
            errno: nix::errno::Errno::ENAMETOOLONG,
        });
    }
    if super::is_reserved(name) {
        return Err(Error::Exists(format!(
            "'{name}' is reserved for a control file"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clone_requests_name_a_new_volume_at_the_top() {
        assert_eq!(clone_name(" vm2.img\n").unwrap(), "vm2.img");
        assert_eq!(clone_name(".hidden").unwrap(), ".hidden");
        for bad in ["", " \n", "a/b", "..", "."] {
            assert!(matches!(clone_name(bad), Err(Error::Invalid(_))), "{bad:?}");
        }
        assert!(matches!(clone_name("status"), Err(Error::Exists(_))));
        assert!(matches!(clone_name(".vol"), Err(Error::Exists(_))));
        assert!(matches!(
            clone_name(&"x".repeat(256)),
            Err(Error::Sys {
                errno: nix::errno::Errno::ENAMETOOLONG,
                ..
            })
        ));
        assert!(clone_name(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn parse_size_units() {
        for (s, want) in [
            ("0", 0u64),
            ("512", 512),
            ("1b", 1),
            ("1k", 1024),
            ("1K", 1024),
            ("1KiB", 1024),
            ("1KB", 1000),
            ("2M", 2 << 20),
            ("2MiB", 2 << 20),
            ("2MB", 2_000_000),
            ("20G", 20 << 30),
            ("1GB", 1_000_000_000),
            ("1T", 1 << 40),
            ("1TB", 1_000_000_000_000),
            ("1P", 1 << 50),
            ("1PB", 1_000_000_000_000_000),
            ("7E", 7 << 60),
        ] {
            assert_eq!(parse_size(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn parse_size_rejects_unknown_suffix_and_overflow() {
        for bad in ["", "G", "1Q", "1.5G", "-1", "1 G", "1GiBB", "1Gi"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(parse_size("16E"), Err(Error::TooBig(_))));
        assert!(matches!(
            parse_size("99999999999999999999"),
            Err(Error::TooBig(_))
        ));
    }

    #[test]
    fn resize_request_grammar() {
        let r: ResizeRequest = "+5G".parse().unwrap();
        assert_eq!(
            (r.sign, r.bytes, r.shrink, r.allocate),
            (Sign::Grow, 5 << 30, false, false)
        );
        let r: ResizeRequest = "-1G shrink".parse().unwrap();
        assert_eq!((r.sign, r.shrink), (Sign::Shrink, true));
        let r: ResizeRequest = "30G allocate\n".parse().unwrap();
        assert!(r.allocate && r.sign == Sign::Set);
        for bad in ["", "shrink", "10G grow", "10G shrink shrink", "+-1G"] {
            assert!(bad.parse::<ResizeRequest>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resize_refuses_shrink_without_flag() {
        let r: ResizeRequest = "-1G".parse().unwrap();
        assert!(matches!(r.plan(2 << 30, u64::MAX), Err(Error::Invalid(_))));
        let r: ResizeRequest = "1G".parse().unwrap();
        assert!(r.plan(2 << 30, u64::MAX).is_err());
        let r: ResizeRequest = "1G shrink".parse().unwrap();
        assert_eq!(r.plan(2 << 30, u64::MAX).unwrap(), 1 << 30);
    }

    #[test]
    fn resize_refuses_below_zero_and_beyond_max() {
        let r: ResizeRequest = "-3G shrink".parse().unwrap();
        assert!(matches!(r.plan(2 << 30, u64::MAX), Err(Error::Invalid(_))));
        let r: ResizeRequest = "+1G".parse().unwrap();
        assert!(matches!(
            r.plan(u64::MAX - 5, u64::MAX),
            Err(Error::TooBig(_))
        ));
        let r: ResizeRequest = "9T".parse().unwrap();
        assert!(matches!(r.plan(0, 8 << 40), Err(Error::TooBig(_))));
    }

    #[test]
    fn wipe_algorithms() {
        assert_eq!("".parse::<WipeAlgorithm>().unwrap(), WipeAlgorithm::Zero);
        assert_eq!(
            "random\n".parse::<WipeAlgorithm>().unwrap(),
            WipeAlgorithm::Random
        );
        assert!("shred".parse::<WipeAlgorithm>().is_err());
        assert_eq!(
            WipeStatus::Running {
                algorithm: WipeAlgorithm::Zero,
                percent: 40
            }
            .to_string(),
            "running 40% zero\n"
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_size(&s);
            let _ = s.parse::<ResizeRequest>();
            let _ = s.parse::<WipeAlgorithm>();
        }

        #[test]
        fn resize_round_trips(sign in 0u8..3, bytes in any::<u64>(), shrink in any::<bool>(), allocate in any::<bool>()) {
            let sign = [Sign::Set, Sign::Grow, Sign::Shrink][sign as usize];
            let r = ResizeRequest { sign, bytes, shrink, allocate };
            prop_assert_eq!(r.to_string().parse::<ResizeRequest>().unwrap(), r);
        }

        #[test]
        fn size_units_scale(n in 0u64..1_000_000, u in 0usize..6) {
            let (suffix, mult) = [("", 1u64), ("K", 1024), ("M", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000)][u];
            prop_assert_eq!(parse_size(&format!("{n}{suffix}")).unwrap(), n * mult);
        }
    }
}
