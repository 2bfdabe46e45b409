//! Check-digit validation: Luhn for payment cards, mod 11 for CPF and CNPJ.
//! Each takes the number's digits as values 0-9.

/// The Luhn checksum holds.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A mod-11 check digit over `digits` with `weights`.
fn mod11(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(&d, &w)| u32::from(d) * w)
        .sum();
    let r = sum % 11;
    if r < 2 { 0 } else { (11 - r) as u8 }
}

fn all_same(digits: &[u8]) -> bool {
    digits.iter().all(|&d| d == digits[0])
}

/// A valid CPF: 11 digits, both check digits right, not all one digit.
pub fn cpf(d: &[u8]) -> bool {
    d.len() == 11
        && !all_same(d)
        && mod11(&d[..9], &[10, 9, 8, 7, 6, 5, 4, 3, 2]) == d[9]
        && mod11(&d[..10], &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2]) == d[10]
}

/// A valid CNPJ: 14 digits, both check digits right, not all one digit.
pub fn cnpj(d: &[u8]) -> bool {
    d.len() == 14
        && !all_same(d)
        && mod11(&d[..12], &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) == d[12]
        && mod11(&d[..13], &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) == d[13]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn luhn_known_numbers() {
        for ok in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "4222222222222",
            "79927398713",
        ] {
            assert!(luhn(&digits(ok)), "{ok}");
        }
        for bad in ["4111111111111112", "5555555555554445", "79927398710"] {
            assert!(!luhn(&digits(bad)), "{bad}");
        }
    }

    #[test]
    fn cpf_check_digits() {
        for ok in ["529.982.247-25", "111.444.777-35", "12345678909"] {
            assert!(cpf(&digits(ok)), "{ok}");
        }
        for bad in [
            "529.982.247-26",
            "111.111.111-11",
            "000.000.000-00",
            "12345678900",
            "1234567890",
        ] {
            assert!(!cpf(&digits(bad)), "{bad}");
        }
    }

    #[test]
    fn cnpj_check_digits() {
        for ok in ["11.222.333/0001-81", "11444777000161", "04.252.011/0001-10"] {
            assert!(cnpj(&digits(ok)), "{ok}");
        }
        for bad in ["11.222.333/0001-82", "11.111.111/1111-11", "11444777000160"] {
            assert!(!cnpj(&digits(bad)), "{bad}");
        }
    }
}
