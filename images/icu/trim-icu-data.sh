#!/bin/sh
# Rebuilds Debian's libicudata (ICU's data, which only Debian's libnode links
# in this image) with English-only data, as Node's own small-icu builds ship.
# Runs in the Dockerfile's icu stage on the target platform, with
# icu-devtools (icupkg, derb, genrb, genccode) and binutils (as, ld) from
# Debian's archive. Writes OUT/<libdir>/libicudata.so.N.M (same name, soname
# and symbol as the original). See docs/images.md#icu-data for what stays.
#
# Removed: the data of every locale but English (en, en_*) and root, in every
# tree (locales, collation, currencies, languages, regions, units, zones,
# number spelling); the legacy charset converters (only TextDecoder reaches
# them, for labels such as iso-8859-2, koi8-r or shift_jis, which then throw
# ERR_ENCODING_NOT_SUPPORTED; UTF-8/16 and Node's own latin1/windows-1252
# decoder need no converter data); transliteration, Unicode character names,
# the spoof checker's confusables and the stringprep profiles (nothing in Node
# reaches them). Each tree's res_index then lists only the locales it still
# holds, so Intl's supportedLocalesOf reports English only.
set -eu
out=${1:?usage: trim-icu-data.sh OUTDIR}
for f in /usr/lib/*/libicudata.so.[0-9]*; do lib=$(readlink -f "$f") && break; done
[ -f "${lib:-}" ] || { echo "trim-icu-data: no libicudata under /usr/lib" >&2; exit 1; }
libdir=$(dirname "$lib")
file=$(basename "$lib")                   # libicudata.so.76.1
major=$(echo "$file" | sed 's/^libicudata\.so\.\([0-9]*\).*/\1/')
sym="icudt${major}_dat"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The data is one symbol in .rodata: its bytes at the symbol's file offset.
read -r value size <<EOS
$(readelf -W --dyn-syms "$lib" | awk -v s="$sym" '$8 == s { print $2, $3 }')
EOS
[ -n "${size:-}" ] || { echo "trim-icu-data: no symbol $sym in $lib" >&2; exit 1; }
read -r addr off <<EOS
$(readelf -W -S "$lib" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == ".rodata" { print $3, $4 }')
EOS
skip=$((0x$value - 0x$addr + 0x$off))
case $size in 0x*) bytes=$((size)) ;; *) bytes=$size ;; esac
# Little-endian data is named icudtNNl (the only kind these platforms have).
pkg="icudt${major}l"
tail -c +$((skip + 1)) "$lib" | head -c "$bytes" >"$work/$pkg.dat"
cd "$work"
icupkg -l "$pkg.dat" >all.txt
grep -q '^root\.res$' all.txt || { echo "trim-icu-data: $lib holds no ICU common data at $sym" >&2; exit 1; }

# Locale files: named by a locale id (language of 2-3 letters, then subtags).
locale_re='(^|/)[a-z]{2,3}(_[A-Za-z0-9]*)*\.res$'
{
  grep -E "$locale_re" all.txt | grep -vE '(^|/)(root|en|en_[A-Za-z0-9_]+|res_index)\.res$'
  grep -E '\.cnv$' all.txt
  grep -E '^translit/|\.spp$' all.txt
  grep -xE 'unames\.icu|confusables\.cfu' all.txt
} | sort -u >remove.txt
icupkg -r remove.txt "$pkg.dat"
icupkg -l "$pkg.dat" >kept.txt

# Every tree's res_index, dumped and written again with the kept locales only.
mkdir -p x gen
grep -E '(^|/)res_index\.res$' kept.txt >index.txt
icupkg -x index.txt -d x "$pkg.dat"
while read -r item; do
  tree=$(dirname "$item")
  # genrb refuses a directory ending in "/.".
  if [ "$tree" = . ]; then sub="" prefix=""; else sub="/$tree" prefix="$tree/"; fi
  mkdir -p "gen$sub" "dump$sub"
  # derb and genrb find files only through absolute directories.
  derb -s "$work/x$sub" -d "$work/dump$sub" res_index.res
  awk -v prefix="$prefix" -v kept="$work/kept.txt" '
    BEGIN { while ((getline l < kept) > 0) have[l] = 1 }
    # derb drops the flag; without it "res" would be its parent locale.
    /^res_index\{$/ { print "res_index:table(nofallback){"; next }
    /^        [A-Za-z0-9_]+ \{ "" \}$/ { if (!((prefix $1 ".res") in have)) next }
    { print }' "dump$sub/res_index.txt" >"dump$sub/res_index.trimmed.txt"
  mv "dump$sub/res_index.trimmed.txt" "dump$sub/res_index.txt"
  genrb -q -s "$work/dump$sub" -d "$work/gen$sub" res_index.txt
done <index.txt
icupkg -s gen -a index.txt "$pkg.dat"

# Back into a shared library with the same symbol and soname. Through the
# target's assembler: genccode's own object writer (-o) leaves the ELF flags
# at 0, which the armhf loader refuses ("ELF file OS ABI invalid"). armhf's
# loader also skips a library not marked hard-float; gcc marks its objects
# with this build attribute (Tag_ABI_VFP_args = VFP registers), and ld then
# sets the flag.
genccode -q -a gcc -e "icudt${major}" -d . "$pkg.dat"
# The file is meant for the C preprocessor, which is not here: as takes the
# #-lines for comments, and the symbol must not become hidden.
sed -i '/^#ifdef U_HIDE_DATA_SYMBOL/,/^#endif/d' "${pkg}_dat.S"
if [ "$(dpkg --print-architecture)" = armhf ]; then
  sed -i '1i .eabi_attribute 28, 1' "${pkg}_dat.S"
fi
as -o "${pkg}_dat.o" "${pkg}_dat.S"
mkdir -p "$out$libdir"
ld -shared -z noexecstack -soname "libicudata.so.$major" -o "$out$libdir/$file" "${pkg}_dat.o"
readelf -W --dyn-syms "$out$libdir/$file" | grep -q " GLOBAL DEFAULT .* $sym\$" ||
  { echo "trim-icu-data: $sym is not exported by the new library" >&2; exit 1; }
chmod 0644 "$out$libdir/$file"
echo "trim-icu-data: $file $bytes -> $(stat -c %s "$pkg.dat") bytes of data, $(wc -l <remove.txt) of $(wc -l <all.txt) items removed"
