;; The exact-duplicate hash (dedupExact.ts has the scheme): a 53-bit hash of a JSON value, read from
;; the UTF-8 text of a line that JSON.parse accepted, in one pass and without building the value.
;; Whitespace is skipped, strings are hashed by their decoded UTF-8 bytes (8 bytes a step), object
;; members are summed (key order does not count), numbers are hashed by their text. `npm run gen:wasm`
;; assembles it into valueHash.generated.ts; test/dataset/valueHash.test.ts checks it against a plain
;; reference of the scheme over parsed values and against reformatted texts of the same values.
;;
;; Memory (imported: dedupExact.ts shares it with the near-duplicate sketch, whose own region is below
;; 20480; wasm.ts has the map): the result at 20480 (f64 hash, i32 at +8: 1 when every string is ASCII,
;; i32 at +12: the detector hints, written for every text, whatever the status, i32 at +16: the deepest
;; nesting of containers, the root's being 1, written with status 0 and, as 129, with status 2, i32 at
;; +20: how many string values the text has, i32 at +24: their UTF-16 units above U+007F, for the token
;; estimate), container frames from 20544 (32 bytes a level, at most
;; 128 levels), the keys of open objects from 28672 (i64 key hashes, at most 32 checked an object), where
;; the first 256 string values are (i32 start and decoded length a value, in text order, keys left out)
;; from 61440, the text from 65536. `hash(n, canonical)` reads n bytes there, rewrites strings with
;; escapes in place (decoded: a value's decoded bytes are where its text began), zeroes 16 bytes after
;; the text and returns:
;;   0  the hash is at 20480;
;;   1  the text needs its canonical form first: a number not written as String() writes its value
;;      ($asWritten: 1.0, 1e3, -0, 0.30000000000000004), or an object that repeats a key (JSON.parse
;;      keeps the last) or has more keys than are checked for repeats.
;;      With `canonical` set (the text is JSON.stringify's) numbers are hashed as written and keys are
;;      not checked, so it always gives 0 for such a text;
;;   2  nesting deeper than 128 levels (JSON.parse's caller refuses records past 64).
;; Frame (32 bytes): i64 sum or chain at 0, i64 pending key hash at 8, i32 count at 16, i32 kind at 20
;; (1 object, 2 array), i32 key-stack start at 24.
(module
  (import "env" "memory" (memory 2))
  (global $str (mut i64) (i64.const 0))
  (global $ascii (mut i32) (i32.const 1))
  (global $keyTop (mut i32) (i32.const 28672))
  ;; The decoded length of the last string $string read, and how many string values the text has so far.
  (global $slen (mut i32) (i32.const 0))
  (global $values (mut i32) (i32.const 0))
  ;; The string values' UTF-16 units above U+007F, counted only when the text may have any (a byte past
  ;; ASCII or a \u escape): $count says.
  (global $nonAscii (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (global $depth (mut i32) (i32.const 0))

  (func $fmix (param $x i64) (result i64)
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))))
    (local.set $x (i64.mul (local.get $x) (i64.const 0xff51afd7ed558ccd)))
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))))
    (local.set $x (i64.mul (local.get $x) (i64.const 0xc4ceb9fe1a85ec53)))
    (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))))

  ;; Bytes [s, s + len): h = (h ^ word) * K over little-endian 8-byte words (the last one's bytes past
  ;; the end masked off), then fmix(h + len).
  (func $bytes (param $s i32) (param $len i32) (result i64)
    (local $h i64) (local $e i32)
    (local.set $h (i64.const 0x243f6a8885a308d3))
    (local.set $e (i32.add (local.get $s) (local.get $len)))
    (block $tail
      (loop $words
        (br_if $tail (i32.lt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 8)))
        (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load (local.get $s))) (i64.const 0x9e3779b97f4a7c15)))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (br $words)))
    (if (i32.gt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 0))
      (then
        (local.set $h
          (i64.mul
            (i64.xor (local.get $h)
              (i64.and (i64.load (local.get $s))
                (i64.shr_u (i64.const -1)
                  (i64.extend_i32_u (i32.sub (i32.const 64) (i32.shl (i32.sub (local.get $e) (local.get $s)) (i32.const 3)))))))
            (i64.const 0x9e3779b97f4a7c15)))))
    (call $fmix (i64.add (local.get $h) (i64.extend_i32_u (local.get $len)))))

  (func $ws (param $i i32) (result i32)
    (local $c i32)
    (loop $skip
      (local.set $c (i32.load8_u (local.get $i)))
      (if (i32.or
            (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x0a)))
            (i32.or (i32.eq (local.get $c) (i32.const 0x0d)) (i32.eq (local.get $c) (i32.const 0x09))))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $skip))))
    (local.get $i))

;; The 4 hex digits at p as a number, all at once: a digit's low 4 bits, plus 9 for a letter (bit 6
  ;; set, upper or lower case); the first digit, at p, is the low byte of the load.
  (func $hex4 (param $p i32) (result i32)
    (local $x i32)
    (local.set $x (i32.load (local.get $p)))
    (local.set $x
      (i32.add (i32.and (local.get $x) (i32.const 0x0f0f0f0f))
        (i32.mul (i32.and (i32.shr_u (local.get $x) (i32.const 6)) (i32.const 0x01010101)) (i32.const 9))))
    (i32.or
      (i32.or
        (i32.shl (i32.and (local.get $x) (i32.const 0xff)) (i32.const 12))
        (i32.shl (i32.and (i32.shr_u (local.get $x) (i32.const 8)) (i32.const 0xff)) (i32.const 8)))
      (i32.or
        (i32.shl (i32.and (i32.shr_u (local.get $x) (i32.const 16)) (i32.const 0xff)) (i32.const 4))
        (i32.shr_u (local.get $x) (i32.const 24)))))

    ;; Writes code point cp as UTF-8 at w; returns the position after it.
  (func $utf8 (param $w i32) (param $cp i32) (result i32)
    (if (i32.lt_u (local.get $cp) (i32.const 0x80))
      (then
        (i32.store8 (local.get $w) (local.get $cp))
        (return (i32.add (local.get $w) (i32.const 1)))))
    (global.set $ascii (i32.const 0))
    (if (i32.lt_u (local.get $cp) (i32.const 0x800))
      (then
        (i32.store8 (local.get $w) (i32.or (i32.const 0xc0) (i32.shr_u (local.get $cp) (i32.const 6))))
        (i32.store8 offset=1 (local.get $w) (i32.or (i32.const 0x80) (i32.and (local.get $cp) (i32.const 0x3f))))
        (return (i32.add (local.get $w) (i32.const 2)))))
    (if (i32.lt_u (local.get $cp) (i32.const 0x10000))
      (then
        (i32.store8 (local.get $w) (i32.or (i32.const 0xe0) (i32.shr_u (local.get $cp) (i32.const 12))))
        (i32.store8 offset=1 (local.get $w)
          (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $cp) (i32.const 6)) (i32.const 0x3f))))
        (i32.store8 offset=2 (local.get $w) (i32.or (i32.const 0x80) (i32.and (local.get $cp) (i32.const 0x3f))))
        (return (i32.add (local.get $w) (i32.const 3)))))
    (i32.store8 (local.get $w) (i32.or (i32.const 0xf0) (i32.shr_u (local.get $cp) (i32.const 18))))
    (i32.store8 offset=1 (local.get $w)
      (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $cp) (i32.const 12)) (i32.const 0x3f))))
    (i32.store8 offset=2 (local.get $w)
      (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $cp) (i32.const 6)) (i32.const 0x3f))))
    (i32.store8 offset=3 (local.get $w) (i32.or (i32.const 0x80) (i32.and (local.get $cp) (i32.const 0x3f))))
    (i32.add (local.get $w) (i32.const 4)))

  ;; The rest of a string from its first backslash r (s: the string's first byte), decoded in place (the
  ;; decoded form is never longer); its hash into $str; returns the position after the closing quote.
  ;; Between escapes, the run up to the next quote or backslash is found 16 bytes at a time and moved
  ;; down in one copy (a byte at a time, text with a \n in every answer took half again as long).
  ;; A surrogate escape that is not half of a pair decodes as U+FFFD, as TextEncoder writes an
  ;; unpaired surrogate of the line itself.
  (func $decode (param $s i32) (param $r i32) (result i32)
    (local $w i32) (local $b i32) (local $cp i32) (local $lo i32) (local $x i32) (local $q i32) (local $m i32)
    (local $v v128)
    (local.set $w (local.get $r))
    (block $end
      (loop $chars
        (local.set $q (local.get $r))
        (loop $find
          (local.set $v (v128.load (local.get $q)))
          (local.set $m
            (i8x16.bitmask
              (v128.or
                (i8x16.eq (local.get $v) (v128.const i8x16 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22))
                (i8x16.eq (local.get $v) (v128.const i8x16 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c)))))
          (if (i32.eqz (local.get $m))
            (then
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              (br $find))))
        (local.set $q (i32.add (local.get $q) (i32.ctz (local.get $m))))
        (memory.copy (local.get $w) (local.get $r) (i32.sub (local.get $q) (local.get $r)))
        (local.set $w (i32.add (local.get $w) (i32.sub (local.get $q) (local.get $r))))
        (local.set $r (local.get $q))
        (br_if $end (i32.eq (i32.load8_u (local.get $r)) (i32.const 0x22)))
        ;; A backslash.
        (local.set $b (i32.load8_u offset=1 (local.get $r)))
        (local.set $r (i32.add (local.get $r) (i32.const 2)))
        (if (i32.ne (local.get $b) (i32.const 0x75))
          (then
            ;; \b \f \n \r \t, or the character itself (\" \\ \/).
            (if (i32.eq (local.get $b) (i32.const 0x62)) (then (local.set $b (i32.const 0x08))))
            (if (i32.eq (local.get $b) (i32.const 0x66)) (then (local.set $b (i32.const 0x0c))))
            (if (i32.eq (local.get $b) (i32.const 0x6e)) (then (local.set $b (i32.const 0x0a))))
            (if (i32.eq (local.get $b) (i32.const 0x72)) (then (local.set $b (i32.const 0x0d))))
            (if (i32.eq (local.get $b) (i32.const 0x74)) (then (local.set $b (i32.const 0x09))))
            (i32.store8 (local.get $w) (local.get $b))
            (local.set $w (i32.add (local.get $w) (i32.const 1)))
            (br $chars)))
        (local.set $x (i32.load (local.get $r)))
        (local.set $x
          (i32.add (i32.and (local.get $x) (i32.const 0x0f0f0f0f))
            (i32.mul (i32.and (i32.shr_u (local.get $x) (i32.const 6)) (i32.const 0x01010101)) (i32.const 9))))
        (local.set $cp
          (i32.or
            (i32.or
              (i32.shl (i32.and (local.get $x) (i32.const 0xff)) (i32.const 12))
              (i32.shl (i32.and (i32.shr_u (local.get $x) (i32.const 8)) (i32.const 0xff)) (i32.const 8)))
            (i32.or
              (i32.shl (i32.and (i32.shr_u (local.get $x) (i32.const 16)) (i32.const 0xff)) (i32.const 4))
              (i32.shr_u (local.get $x) (i32.const 24)))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        ;; Not a surrogate (the common case, an ensure_ascii dump is mostly these): written here, no calls.
        (if (i32.ne (i32.and (local.get $cp) (i32.const 0xf800)) (i32.const 0xd800))
          (then
            (if (i32.lt_u (local.get $cp) (i32.const 0x80))
              (then
                (i32.store8 (local.get $w) (local.get $cp))
                (local.set $w (i32.add (local.get $w) (i32.const 1)))
                (br $chars)))
            (global.set $ascii (i32.const 0))
            (if (i32.lt_u (local.get $cp) (i32.const 0x800))
              (then
                (i32.store8 (local.get $w) (i32.or (i32.const 0xc0) (i32.shr_u (local.get $cp) (i32.const 6))))
                (i32.store8 offset=1 (local.get $w) (i32.or (i32.const 0x80) (i32.and (local.get $cp) (i32.const 0x3f))))
                (local.set $w (i32.add (local.get $w) (i32.const 2)))
                (br $chars)))
            (i32.store8 (local.get $w) (i32.or (i32.const 0xe0) (i32.shr_u (local.get $cp) (i32.const 12))))
            (i32.store8 offset=1 (local.get $w)
              (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $cp) (i32.const 6)) (i32.const 0x3f))))
            (i32.store8 offset=2 (local.get $w) (i32.or (i32.const 0x80) (i32.and (local.get $cp) (i32.const 0x3f))))
            (local.set $w (i32.add (local.get $w) (i32.const 3)))
            (br $chars)))
        (if (i32.eq (i32.and (local.get $cp) (i32.const 0xfc00)) (i32.const 0xd800))
          (then
            (local.set $lo (i32.const 0))
            (if (i32.and
                  (i32.eq (i32.load8_u (local.get $r)) (i32.const 0x5c))
                  (i32.eq (i32.load8_u offset=1 (local.get $r)) (i32.const 0x75)))
              (then (local.set $lo (call $hex4 (i32.add (local.get $r) (i32.const 2))))))
            (if (i32.eq (i32.and (local.get $lo) (i32.const 0xfc00)) (i32.const 0xdc00))
              (then
                (local.set $cp
                  (i32.add (i32.const 0x10000)
                    (i32.or
                      (i32.shl (i32.sub (local.get $cp) (i32.const 0xd800)) (i32.const 10))
                      (i32.sub (local.get $lo) (i32.const 0xdc00)))))
                (local.set $r (i32.add (local.get $r) (i32.const 6))))
              (else (local.set $cp (i32.const 0xfffd)))))
          (else
            (if (i32.eq (i32.and (local.get $cp) (i32.const 0xfc00)) (i32.const 0xdc00))
              (then (local.set $cp (i32.const 0xfffd))))))
        (local.set $w (call $utf8 (local.get $w) (local.get $cp)))
        (br $chars)))
    (global.set $slen (i32.sub (local.get $w) (local.get $s)))
    (global.set $str (call $bytes (local.get $s) (global.get $slen)))
    (i32.add (local.get $r) (i32.const 1)))

  ;; The UTF-16 units above U+007F of the valid UTF-8 bytes [s, s + len): a lead byte (0xc0 and above)
  ;; starts one, a four-byte sequence's (0xf0 and above) two. Sixteen bytes a step, each lane counting
  ;; up to 2 a step, summed before it could pass 255.
  (func $units (param $s i32) (param $len i32) (result i32)
    (local $e i32) (local $n i32) (local $acc v128) (local $v v128) (local $k i32) (local $b i32)
    (local.set $e (i32.add (local.get $s) (local.get $len)))
    (block $blocks
      (loop $outer
        (br_if $blocks (i32.lt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 16)))
        (local.set $acc (v128.const i64x2 0 0))
        (local.set $k (i32.const 0))
        (block $full
          (loop $inner
            (br_if $full (i32.lt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 16)))
            (br_if $full (i32.eq (local.get $k) (i32.const 127)))
            (local.set $v (v128.load (local.get $s)))
            (local.set $acc
              (i8x16.sub
                (i8x16.sub (local.get $acc)
                  (i8x16.ge_u (local.get $v) (v128.const i8x16 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0)))
                (i8x16.ge_u (local.get $v) (v128.const i8x16 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0 0xf0))))
            (local.set $s (i32.add (local.get $s) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $inner)))
        (local.set $acc (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $acc))))
        (local.set $n
          (i32.add (local.get $n)
            (i32.add
              (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
              (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
        (br $outer)))
    (block $tail
      (loop $bytes
        (br_if $tail (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $b (i32.load8_u (local.get $s)))
        (local.set $n
          (i32.add (local.get $n)
            (i32.add (i32.ge_u (local.get $b) (i32.const 0xc0)) (i32.ge_u (local.get $b) (i32.const 0xf0)))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $bytes)))
    (local.get $n))

  ;; A string from p (the byte after its opening quote): its hash into $str; returns the position after
  ;; its closing quote. The quote or backslash that ends the plain part is found 16 bytes at a time.
  (func $string (param $p i32) (result i32)
    (local $q i32) (local $m i32) (local $v v128)
    (local.set $q (local.get $p))
    (loop $find
      (local.set $v (v128.load (local.get $q)))
      (local.set $m
        (i8x16.bitmask
          (v128.or
            (i8x16.eq (local.get $v) (v128.const i8x16 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22))
            (i8x16.eq (local.get $v) (v128.const i8x16 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c)))))
      (if (i32.eqz (local.get $m))
        (then
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (br $find))))
    (local.set $q (i32.add (local.get $q) (i32.ctz (local.get $m))))
    (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 0x22))
      (then
        (global.set $slen (i32.sub (local.get $q) (local.get $p)))
        (global.set $str (call $bytes (local.get $p) (global.get $slen)))
        (return (i32.add (local.get $q) (i32.const 1)))))
    (call $decode (local.get $p) (local.get $q)))

  ;; An object's key at i (its opening quote), for the frame at f: its hash kept in the frame and, unless
  ;; canonical, checked against the object's earlier keys. Returns the position after the colon, or -1
  ;; when the object repeats a key or has more keys than are checked.
  (func $key (param $i i32) (param $f i32) (param $canonical i32) (result i32)
    (local $k i64) (local $j i32)
    (local.set $i (call $string (i32.add (local.get $i) (i32.const 1))))
    (local.set $k (global.get $str))
    (if (i32.eqz (local.get $canonical))
      (then
        (local.set $j (i32.load offset=24 (local.get $f)))
        (if (i32.ge_u (i32.sub (global.get $keyTop) (local.get $j)) (i32.const 256))
          (then (return (i32.const -1))))
        (block $unique
          (loop $earlier
            (br_if $unique (i32.ge_u (local.get $j) (global.get $keyTop)))
            (if (i64.eq (i64.load (local.get $j)) (local.get $k)) (then (return (i32.const -1))))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $earlier)))
        (i64.store (global.get $keyTop) (local.get $k))
        (global.set $keyTop (i32.add (global.get $keyTop) (i32.const 8)))))
    (i64.store offset=8 (local.get $f) (local.get $k))
    ;; Past the colon.
    (i32.add (call $ws (local.get $i)) (i32.const 1)))

  ;; Whether the number [s, e) is written as JavaScript's String() writes its value, so that hashing the
  ;; text as it is equals hashing the canonical text: an integer of at most 15 digits (not -0), or a
  ;; decimal in fixed notation with at most 15 significant digits, no trailing zero and at most 5 zeros
  ;; after "0." (String() writes 1e-7 and below with an exponent). Up to 15 significant digits a decimal
  ;; and its nearest double give each other back, and no shorter decimal gives the same double, so the
  ;; shortest form String() prints is the text itself. Anything else (1.0, 1e3, 0.30000000000000004,
  ;; -0) is hashed from the canonical text.
  (func $asWritten (param $s i32) (param $e i32) (result i32)
    (local $d i32) (local $p i32) (local $dot i32) (local $c i32) (local $z i32) (local $sig i32)
    ;; The first digit (after a minus sign).
    (local.set $d (i32.add (local.get $s) (i32.eq (i32.load8_u (local.get $s)) (i32.const 0x2d))))
    (local.set $dot (i32.const -1))
    (local.set $p (local.get $d))
    (block $scanned
      (loop $chars
        (br_if $scanned (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.eq (local.get $c) (i32.const 0x2e))
          (then (local.set $dot (local.get $p)))
          (else
            ;; An exponent, or a sign anywhere but first.
            (if (i32.ge_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 10)) (then (return (i32.const 0))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $chars)))
    (if (i32.lt_s (local.get $dot) (i32.const 0))
      (then
        ;; An integer: JSON allows a leading 0 only for 0 itself, and -0 is written 0.
        (if (i32.eq (i32.load8_u (local.get $d)) (i32.const 0x30))
          (then (return (i32.eq (i32.sub (local.get $e) (local.get $s)) (i32.const 1)))))
        (return (i32.le_u (i32.sub (local.get $e) (local.get $d)) (i32.const 15)))))
    (if (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 0x30)) (then (return (i32.const 0))))
    (if (i32.eq (i32.load8_u (local.get $d)) (i32.const 0x30))
      (then
        ;; 0.xxx: the zeros after the point are not significant, and more than 5 of them mean below 1e-6.
        (local.set $p (i32.add (local.get $dot) (i32.const 1)))
        (loop $zeros
          (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x30))
            (then
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $zeros))))
        (local.set $z (i32.sub (local.get $p) (i32.add (local.get $dot) (i32.const 1))))
        (if (i32.gt_u (local.get $z) (i32.const 5)) (then (return (i32.const 0))))
        (local.set $sig (i32.sub (local.get $e) (local.get $p))))
      (else
        (local.set $sig (i32.sub (i32.sub (local.get $e) (local.get $d)) (i32.const 1)))))
    (i32.le_u (local.get $sig) (i32.const 15)))

  ;; Folds a value's hash v into the container of frame f: an array chains its items in order, an object
  ;; sums a mix of each member's key and value (order does not count).
  (func $fold (param $f i32) (param $v i64)
    (local $acc i64)
    (local.set $acc (i64.load (local.get $f)))
    (if (i32.eq (i32.load offset=20 (local.get $f)) (i32.const 2))
      (then
        (local.set $acc (i64.mul (i64.xor (local.get $acc) (local.get $v)) (i64.const 0x9e3779b97f4a7c15)))
        (local.set $acc (i64.xor (local.get $acc) (i64.shr_u (local.get $acc) (i64.const 29)))))
      (else
        (local.set $acc
          (i64.add (local.get $acc)
            (call $fmix (i64.xor (i64.load offset=8 (local.get $f)) (i64.mul (local.get $v) (i64.const 0xbf58476d1ce4e5b9))))))))
    (i64.store (local.get $f) (local.get $acc))
    (i32.store offset=16 (local.get $f) (i32.add (i32.load offset=16 (local.get $f)) (i32.const 1))))

  ;; The hash of the container of frame f, which its closing bracket ends: 5 + kind added (object 6, array 7).
  (func $close (param $f i32) (result i64)
    (global.set $keyTop (i32.load offset=24 (local.get $f)))
    (i64.add
      (call $fmix
        (i64.add (i64.load (local.get $f))
          (i64.mul (i64.extend_i32_u (i32.load offset=16 (local.get $f))) (i64.const 0x94d049bb133111eb))))
      (i64.extend_i32_u (i32.add (i32.const 5) (i32.load offset=20 (local.get $f))))))

  (func (export "hash") (param $n i32) (param $canonical i32) (result i32)
    (local $i i32) (local $end i32) (local $d i32) (local $f i32) (local $c i32) (local $s i32)
    (local $v i64) (local $acc v128)
    (local $w v128) (local $w1 v128) (local $d1 v128) (local $at v128) (local $phone v128) (local $escape v128)
    (local $hints i32) (local $open v128) (local $lb v128)
    (local.set $end (i32.add (i32.const 65536) (local.get $n)))
    (v128.store (local.get $end) (v128.const i64x2 0 0))
    ;; One pass over the text, 16 bytes a step: ASCII (no byte above 0x7f anywhere: outside strings JSON
    ;; is ASCII; escapes are checked as decoded) and the hints for the PII and secret detectors: '@'
    ;; (bit 0), three digits in a row or '+' before a digit (bit 1, which pii.ts's PHONE_HINT implies), a
    ;; backslash before 'u' (bit 2), and for the placeholder check '{', '[' or '<' before an ASCII letter,
    ;; or '{{' (bit 3, which each of placeholder.ts's openers implies). A byte's followers are read by loads one and two bytes further on
    ;; (the step's last bytes read the next step's first, or the zeroed bytes after the text, which
    ;; complete no hint), and each hint is an OR of lanes
    ;; over the whole text, looked at once at the end. Digits by the signed compare x + 0x50 < -118
    ;; (x - 0x30 < 10 unsigned: one SSE compare where an unsigned one takes three).
    (local.set $acc (v128.const i64x2 0 0))
    (local.set $at (v128.const i64x2 0 0))
    (local.set $phone (v128.const i64x2 0 0))
    (local.set $escape (v128.const i64x2 0 0))
    (local.set $open (v128.const i64x2 0 0))
    (local.set $i (i32.const 65536))
    (block $scanned
      (loop $scan
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $w (v128.load (local.get $i)))
        (local.set $acc (v128.or (local.get $acc) (local.get $w)))
        ;; Every hint starts at a byte of w: '@', '\\', '{', '[', '<', '+' or a digit. Those bytes are told
        ;; apart by their two nibbles (a table each, ANDed: the classes are one bit apiece), and 16 bytes
        ;; without one (most of them) skip the hints' work.
        (if (v128.any_true
              (v128.and
                (i8x16.swizzle (v128.const i8x16 0x09 0x01 0x01 0x01 0x01 0x01 0x01 0x01 0x01 0x01 0x00 0x02 0x05 0x00 0x00 0x00)
                  (v128.and (local.get $w) (v128.const i8x16 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f)))
                (i8x16.swizzle (v128.const i8x16 0x00 0x00 0x02 0x01 0x08 0x06 0x00 0x02 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00)
                  (i8x16.shr_u (local.get $w) (i32.const 4)))))
          (then
            (local.set $w1 (v128.load offset=1 (local.get $i)))
            (local.set $at
              (v128.or (local.get $at)
                (i8x16.eq (local.get $w) (v128.const i8x16 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40 0x40))))
            (local.set $escape
              (v128.or (local.get $escape)
                (v128.and
                  (i8x16.eq (local.get $w) (v128.const i8x16 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c))
                  (i8x16.eq (local.get $w1) (v128.const i8x16 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75 0x75)))))
            ;; Letters by the signed compare (x | 0x20) + 0x1f < -102 (x | 0x20 - 'a' < 26 unsigned).
            (local.set $lb (i8x16.eq (local.get $w) (v128.const i8x16 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b)))
            (local.set $open
              (v128.or (local.get $open)
                (v128.or
                  (v128.and
                    (v128.or
                      (v128.or (local.get $lb)
                        (i8x16.eq (local.get $w) (v128.const i8x16 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b 0x5b)))
                      (i8x16.eq (local.get $w) (v128.const i8x16 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c 0x3c)))
                    (i8x16.lt_s
                      (i8x16.add
                        (v128.or (local.get $w1) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20))
                        (v128.const i8x16 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f))
                      (v128.const i8x16 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102)))
                  (v128.and (local.get $lb)
                    (i8x16.eq (local.get $w1) (v128.const i8x16 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b 0x7b))))))
            (local.set $d1
              (i8x16.lt_s
                (i8x16.add (local.get $w1) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50))
                (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118)))
            (local.set $phone
              (v128.or (local.get $phone)
                (v128.and (local.get $d1)
                  (v128.or
                    (i8x16.eq (local.get $w) (v128.const i8x16 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b))
                    (v128.and
                      (i8x16.lt_s
                        (i8x16.add (local.get $w) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50))
                        (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118))
                      (i8x16.lt_s
                        (i8x16.add (v128.load offset=2 (local.get $i)) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50))
                        (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118)))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $scan)))
    (local.set $hints
      (i32.or (v128.any_true (local.get $at))
        (i32.or
          (i32.shl (v128.any_true (local.get $phone)) (i32.const 1))
          (i32.or
            (i32.shl (v128.any_true (local.get $escape)) (i32.const 2))
            (i32.shl (v128.any_true (local.get $open)) (i32.const 3))))))
    (i32.store (i32.const 20492) (local.get $hints))
    (global.set $ascii (i32.eqz (i8x16.bitmask (local.get $acc))))
    (global.set $keyTop (i32.const 28672))
    (global.set $values (i32.const 0))
    (global.set $nonAscii (i32.const 0))
    (global.set $count (i32.or (i32.eqz (global.get $ascii)) (v128.any_true (local.get $escape))))
    (global.set $depth (i32.const 0))
    (local.set $i (call $ws (i32.const 65536)))
    (local.set $d (i32.const 0))
    (block $done
      (loop $value
        ;; A value starts at i: leave its hash in v, or open a container and go on with its first value.
        (local.set $c (i32.load8_u (local.get $i)))
        (block $have
          (if (i32.eq (local.get $c) (i32.const 0x22))
            (then
              (local.set $s (i32.add (local.get $i) (i32.const 1)))
              (local.set $i (call $string (local.get $s)))
              (local.set $v (i64.add (global.get $str) (i64.const 1)))
              ;; A string value: where its decoded bytes are, for the near-duplicate sketch.
              (if (i32.lt_u (global.get $values) (i32.const 256))
                (then
                  (i32.store offset=61440 (i32.shl (global.get $values) (i32.const 3)) (local.get $s))
                  (i32.store offset=61444 (i32.shl (global.get $values) (i32.const 3)) (global.get $slen))))
              (global.set $values (i32.add (global.get $values) (i32.const 1)))
              (if (global.get $count)
                (then (global.set $nonAscii (i32.add (global.get $nonAscii) (call $units (local.get $s) (global.get $slen))))))
              (br $have)))
          (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
            (then
              (if (i32.ge_u (local.get $d) (i32.const 128))
                (then
                  (i32.store (i32.const 20496) (i32.const 129))
                  (return (i32.const 2))))
              (local.set $f (i32.add (i32.const 20544) (i32.shl (local.get $d) (i32.const 5))))
              (local.set $d (i32.add (local.get $d) (i32.const 1)))
              (if (i32.gt_u (local.get $d) (global.get $depth)) (then (global.set $depth (local.get $d))))
              (i64.store (local.get $f) (i64.const 0x452821e638d01377))
              (i32.store offset=16 (local.get $f) (i32.const 0))
              (i32.store offset=20 (local.get $f) (select (i32.const 1) (i32.const 2) (i32.eq (local.get $c) (i32.const 0x7b))))
              (i32.store offset=24 (local.get $f) (global.get $keyTop))
              (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
              (local.set $c (i32.load8_u (local.get $i)))
              (if (i32.or (i32.eq (local.get $c) (i32.const 0x7d)) (i32.eq (local.get $c) (i32.const 0x5d)))
                (then
                  ;; Empty: a value at once.
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (local.set $v (call $close (local.get $f)))
                  (local.set $d (i32.sub (local.get $d) (i32.const 1)))
                  (br $have)))
              (if (i32.eq (i32.load offset=20 (local.get $f)) (i32.const 1))
                (then
                  (local.set $i (call $key (local.get $i) (local.get $f) (local.get $canonical)))
                  (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const 1))))
                  (local.set $i (call $ws (local.get $i)))))
              (br $value)))
          (if (i32.eq (local.get $c) (i32.const 0x74))
            (then
              (local.set $v (i64.const 0x3f84d5b5b5470917))
              (local.set $i (i32.add (local.get $i) (i32.const 4)))
              (br $have)))
          (if (i32.eq (local.get $c) (i32.const 0x66))
            (then
              (local.set $v (i64.const 0x9216d5d98979fb1b))
              (local.set $i (i32.add (local.get $i) (i32.const 5)))
              (br $have)))
          (if (i32.eq (local.get $c) (i32.const 0x6e))
            (then
              (local.set $v (i64.const 0xd1310ba698dfb5ac))
              (local.set $i (i32.add (local.get $i) (i32.const 4)))
              (br $have)))
          ;; A number: its bytes, hashed as written when canonical or already written as String() would.
          (local.set $s (local.get $i))
          (block $numberEnd
            (loop $number
              (local.set $c (i32.load8_u (local.get $i)))
              (br_if $numberEnd
                (i32.eqz
                  (i32.or
                    (i32.or
                      (i32.lt_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 10))
                      (i32.or (i32.eq (local.get $c) (i32.const 0x2d)) (i32.eq (local.get $c) (i32.const 0x2b))))
                    (i32.or (i32.eq (local.get $c) (i32.const 0x2e)) (i32.eq (i32.or (local.get $c) (i32.const 0x20)) (i32.const 0x65))))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $number)))
          (if (i32.eqz (i32.or (local.get $canonical) (call $asWritten (local.get $s) (local.get $i))))
            (then (return (i32.const 1))))
          (local.set $v (i64.add (call $bytes (local.get $s) (i32.sub (local.get $i) (local.get $s))) (i64.const 2))))
        ;; A value is in v: fold it into its container; a closing bracket after it makes the container a
        ;; value in turn, a comma starts the next item.
        (loop $fold
          (br_if $done (i32.eqz (local.get $d)))
          (local.set $f (i32.add (i32.const 20544) (i32.shl (i32.sub (local.get $d) (i32.const 1)) (i32.const 5))))
          (call $fold (local.get $f) (local.get $v))
          (local.set $i (call $ws (local.get $i)))
          (local.set $c (i32.load8_u (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (if (i32.eq (local.get $c) (i32.const 0x2c))
            (then
              (local.set $i (call $ws (local.get $i)))
              (if (i32.eq (i32.load offset=20 (local.get $f)) (i32.const 1))
                (then
                  (local.set $i (call $key (local.get $i) (local.get $f) (local.get $canonical)))
                  (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const 1))))
                  (local.set $i (call $ws (local.get $i)))))
              (br $value)))
          (local.set $v (call $close (local.get $f)))
          (local.set $d (i32.sub (local.get $d) (i32.const 1)))
          (br $fold))))
    (f64.store (i32.const 20480) (f64.convert_i64_u (i64.shr_u (call $fmix (local.get $v)) (i64.const 11))))
    (i32.store (i32.const 20488) (global.get $ascii))
    (i32.store (i32.const 20496) (global.get $depth))
    (i32.store (i32.const 20500) (global.get $values))
    (i32.store (i32.const 20504) (global.get $nonAscii))
    (i32.const 0))
)
