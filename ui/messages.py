"""Portuguese for the messages `segdemo` raises (its ValueErrors stay English in the library).

Each entry is a regular expression matched against the whole English message and the
Portuguese text, which may reuse the expression's named groups. A message no entry matches is
shown as it is, in English: a translation that guessed would be worse than the original.
"""

from __future__ import annotations

import re

from ui.i18n import PORTUGUESE

_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"No image was given\.", "Nenhuma imagem foi enviada."),
    (r"No image file at (?P<path>.+)\.", "Não há arquivo de imagem em {path}."),
    (r"(?P<name>.+) is empty \(0 bytes\)\.", "{name} está vazio (0 bytes)."),
    (r"(?P<name>.+) is (?P<size>[\d.]+) MB; the limit is (?P<limit>\d+) MB\.", "{name} tem {size} MB; o limite é {limit} MB."),
    (
        r"(?P<name>.+) has too many pixels \(limit (?P<limit>\d+) megapixels\)\.",
        "{name} tem pixels demais (limite de {limit} megapixels).",
    ),
    (
        r"(?P<name>.+) could not be decoded: it looks truncated or corrupt \((?P<detail>.*)\)\.",
        "Não foi possível decodificar {name}: o arquivo parece truncado ou corrompido ({detail}).",
    ),
    (
        r"(?P<name>.+) is not an image this app can read \(supported: (?P<formats>.+)\)\.",
        "{name} não é uma imagem que este app consiga ler (formatos aceitos: {formats}).",
    ),
    (r"The image is empty \(0 pixels\)\.", "A imagem está vazia (0 pixels)."),
    (r"The image has (?P<mp>\d+) megapixels; the limit is (?P<limit>\d+)\.", "A imagem tem {mp} megapixels; o limite é {limit}."),
    (r"The image array is empty \(shape (?P<shape>.+)\)\.", "O array da imagem está vazio (formato {shape})."),
    (
        r"Unsupported image shape (?P<shape>.+): expected H×W, H×W×1, H×W×3 or H×W×4\.",
        "Formato de imagem não suportado {shape}: esperado H×W, H×W×1, H×W×3 ou H×W×4.",
    ),
    (r"The image contains NaN or infinite values\.", "A imagem contém valores NaN ou infinitos."),
    (
        r"32-bit integer images are not supported; save the image with 8 or 16 bits\.",
        "Imagens de inteiros de 32 bits não são suportadas; salve a imagem com 8 ou 16 bits.",
    ),
    (
        r"Unsupported pixel type (?P<dtype>.+): use uint8, uint16 or floats in \[0, 1\]\.",
        "Tipo de pixel não suportado {dtype}: use uint8, uint16 ou floats em [0, 1].",
    ),
    (
        r"Float images must hold values in \[0, 1\]; this one spans \[(?P<low>.+), (?P<high>.+)\]\.",
        "Imagens de ponto flutuante devem ter valores em [0, 1]; esta vai de {low} a {high}.",
    ),
    (r"Integer images must not hold negative values\.", "Imagens de inteiros não podem ter valores negativos."),
    (
        r"Integer images must hold values up to 65535 \(8 or 16 bits\)\.",
        "Imagens de inteiros devem ter valores até 65535 (8 ou 16 bits).",
    ),
    (
        r"Unsupported image type (?P<type>.+): give a file path, a PIL image or a numpy array\.",
        "Tipo de imagem não suportado {type}: passe o caminho de um arquivo, uma imagem PIL ou um array numpy.",
    ),
    (r"Choose at least one model to compare\.", "Escolha pelo menos um modelo para comparar."),
    (r"Choose at least one model\.", "Escolha pelo menos um modelo."),
    (
        r"The ground truth is (?P<tw>\d+)×(?P<th>\d+) but the image is (?P<iw>\d+)×(?P<ih>\d+)\.",
        "A saída ideal (ground truth) tem {tw}×{th}, mas a imagem tem {iw}×{ih}.",
    ),
    (r"The threshold must be in \[0, 1\], got (?P<value>.+)\.", "O limiar deve estar em [0, 1]; recebido {value}."),
    (
        r"The threshold must be a number in \[0, 1\], got (?P<value>.+)\.",
        "O limiar deve ser um número em [0, 1]; recebido {value}.",
    ),
    (r"The opacity must be in \[0, 1\], got (?P<value>.+)\.", "A opacidade deve estar em [0, 1]; recebido {value}."),
    (r"Unknown model (?P<key>.+)\. Known models: (?P<known>.+)\.", "Modelo desconhecido {key}. Modelos conhecidos: {known}."),
    (
        r"The weights of (?P<title>.+?) are missing: (?P<rest>.+)",
        "Os pesos de {title} não estão neste servidor: {rest}",
    ),
    # The "Look inside" tab (segdemo.inside): its building blocks take tables a student edits.
    (r"The image must be a table of numbers\.", "A imagem deve ser uma tabela de números."),
    (r"The kernel must be a table of numbers\.", "O núcleo deve ser uma tabela de números."),
    (
        r"The image must be a table of numbers with 1 to (?P<max>\d+) rows and columns; got shape (?P<shape>.+)\.",
        "A imagem deve ser uma tabela de números com 1 a {max} linhas e colunas; recebido o formato {shape}.",
    ),
    (
        r"The kernel must be a table of numbers with 1 to (?P<max>\d+) rows and columns; got shape (?P<shape>.+)\.",
        "O núcleo deve ser uma tabela de números com 1 a {max} linhas e colunas; recebido o formato {shape}.",
    ),
    (r"The image holds a value that is not a number\.", "A imagem contém um valor que não é um número."),
    (r"The kernel holds a value that is not a number\.", "O núcleo contém um valor que não é um número."),
    (r"The kernel must be 3×3; got (?P<rows>\d+)×(?P<columns>\d+)\.", "O núcleo deve ser 3×3; recebido {rows}×{columns}."),
    (
        r"With 'valid' padding this operation needs an image of at least (?P<side>\d+)×(?P=side)\.",
        "Com preenchimento 'valid' esta operação precisa de uma imagem de pelo menos {side}×{side}.",
    ),
    (r"Unknown operation (?P<name>.+); choose one of (?P<names>.+)\.", "Operação desconhecida {name}; escolha uma de {names}."),
    (r"Padding is 'same' or 'valid', got (?P<value>.+)\.", "O preenchimento (padding) é 'same' ou 'valid'; recebido {value}."),
    (
        r"Feature maps are shown for the eliret and membrane models; (?P<key>.+) is a (?P<family>.+) model\.",
        "Os mapas de características são mostrados para os modelos eliret e de membranas; {key} é um modelo {family}.",
    ),
    (
        r"(?P<key>\w+) has no layer named (?P<layer>.+); choose one of (?P<names>.+)\.",
        "{key} não tem camada chamada {layer}; escolha uma de {names}.",
    ),
    (r"Unknown pair (?P<pair>.+); choose one of (?P<pairs>.+)\.", "Par desconhecido {pair}; escolha um de {pairs}."),
    (
        r"The pyramid's branches are 1, 2, 3 and 6 bins; got (?P<got>.+)\.",
        "Os ramos da pirâmide têm 1, 2, 3 e 6 divisões (bins); recebido {got}.",
    ),
    (
        r"The pyramid pooling module is PSPNet's; (?P<key>.+) is a (?P<family>.+) model\.",
        "A pirâmide de pooling é da PSPNet; {key} é um modelo {family}.",
    ),
    (
        r"The dilated ResNet is PSPNet's; (?P<key>.+) is a (?P<family>.+) model\.",
        "A ResNet dilatada é da PSPNet; {key} é um modelo {family}.",
    ),
    (
        r"The point is \(row, column\) as fractions between 0 and 1; got (?P<point>.+)\.",
        "O ponto é (linha, coluna) em frações entre 0 e 1; recebido {point}.",
    ),
    (
        r"The membrane dataset is not on this machine (?P<rest>.*)",
        "O conjunto de dados de membranas não está nesta máquina {rest}",
    ),
    (
        r"Test-time augmentation is for the membrane models only, not (?P<key>.+)\.",
        "O aumento de dados no teste (TTA) é só para os modelos de membranas, não para {key}.",
    ),
    (r"tta must be True or False, got (?P<value>.+)\.", "tta deve ser True ou False; recebido {value}."),
    (
        r"The (?P<name>[a-z ]+) range must be a number in \[0, (?P<limit>[\d.]+)\], got (?P<value>.+)\.",
        "A faixa de {name} deve ser um número em [0, {limit}]; recebido {value}.",
    ),
)

_COMPILED = tuple((re.compile(pattern, re.DOTALL), portuguese) for pattern, portuguese in _PATTERNS)


def translate(message: str, language: str) -> str:
    """`message` (an English segdemo message) in `language`; unchanged when it has no translation."""
    if language != PORTUGUESE:
        return message
    for pattern, portuguese in _COMPILED:
        match = pattern.fullmatch(message)
        if match:
            return portuguese.format(**match.groupdict())
    return message
