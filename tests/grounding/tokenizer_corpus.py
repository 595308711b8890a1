"""Captions for GroundingTokenizerTest: what users send and what breaks
tokenizer ports (punctuation, accents, case rules, CJK, control and
zero-width characters, unknown and over-long words, > 256 tokens)."""

CAPTIONS = [
    "person",
    "car . person . dog .",
    "Person. Car. Bicycle",
    "  a man riding a bicycle   ",
    "the person's bag, the dog's leash!",
    "is there a truck? a van?",
    "don't miss the hot-air balloon (red) [left]",
    "tri-van; semi-trailer: 18 wheels",
    "3.5 ton truck, 2,000 kg",
    "café naïve Ångström résumé façade",
    "ΟΔΟΣ ΣΑΣ Σ",  # final sigma in str.lower()
    "İstanbul IŞIK",  # U+0130 lowers to two code points
    "straße Maß",
    "行人 和 汽车",
    "歩行者と自転車",  # kana are not CJK ideographs
    "보행자 자동차",  # Hangul decomposes under NFD
    "e\u0301cole a\u0308\u0323",  # combining marks, out of canonical order
    "zero\u200bwidth\u200djoin soft\u00adhyphen",
    "tab\tnew\nline\r\x01control\x7f",
    "no\u00a0break\u3000ideographic\u2028line",
    "ＦＵＬＬ ｗｉｄｔｈ ﬁne Ⅻ",
    "emoji 🚗 🚶 and symbols © ® ™ € $ + < = > ^ ` | ~",
    "xqzjvw blorptastic unfathomabilityness",
    "a" * 101 + " " + "b" * 100,
    "supercalifragilisticexpialidocious",
    "...",
    ". car",
    "car .",
    "car.",
    " ".join(f"object{i} ." for i in range(100)),  # > 256 tokens, cut mid-phrase
    " ".join(["person", "car", "bicycle", "dog", "truck"] * 60),  # > 256 tokens, one phrase
]
