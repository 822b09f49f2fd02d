"""Brazilian Portuguese class names for the legends (data only; segdemo.palettes stays English).

One table per dataset, English name -> Portuguese name, because the same English word may need a
different Portuguese one (a Cityscapes "wall" is a free-standing *muro*, an ADE20K "wall" the
*parede* of a room). `portuguese(classes)` picks the table by the class list itself.
"""

from __future__ import annotations

from segdemo import palettes
from segdemo.render import UNLABELLED_NAME

BINARY = {"background": "fundo", "object": "objeto"}
MEMBRANE = {"cell interior": "interior da célula", "membrane": "membrana"}

VOC = {
    "background": "fundo", "aeroplane": "avião", "bicycle": "bicicleta", "bird": "pássaro", "boat": "barco",
    "bottle": "garrafa", "bus": "ônibus", "car": "carro", "cat": "gato", "chair": "cadeira", "cow": "vaca",
    "diningtable": "mesa de jantar", "dog": "cachorro", "horse": "cavalo", "motorbike": "moto", "person": "pessoa",
    "pottedplant": "planta em vaso", "sheep": "ovelha", "sofa": "sofá", "train": "trem", "tvmonitor": "TV/monitor",
}

CITYSCAPES = {
    "road": "rua", "sidewalk": "calçada", "building": "prédio", "wall": "muro", "fence": "cerca", "pole": "poste",
    "traffic light": "semáforo", "traffic sign": "placa de trânsito", "vegetation": "vegetação", "terrain": "terreno",
    "sky": "céu", "person": "pedestre", "rider": "ciclista ou motociclista", "car": "carro", "truck": "caminhão",
    "bus": "ônibus", "train": "trem", "motorcycle": "motocicleta", "bicycle": "bicicleta",
}

ADE20K = {
    "wall": "parede", "building": "prédio", "sky": "céu", "floor": "piso", "tree": "árvore", "ceiling": "teto",
    "road": "rua", "bed": "cama", "windowpane": "janela", "grass": "grama", "cabinet": "armário", "sidewalk": "calçada",
    "person": "pessoa", "earth": "terra", "door": "porta", "table": "mesa", "mountain": "montanha", "plant": "planta",
    "curtain": "cortina", "chair": "cadeira", "car": "carro", "water": "água", "painting": "quadro", "sofa": "sofá",
    "shelf": "prateleira", "house": "casa", "sea": "mar", "mirror": "espelho", "rug": "tapete", "field": "campo",
    "armchair": "poltrona", "seat": "assento", "fence": "cerca", "desk": "escrivaninha", "rock": "rocha",
    "wardrobe": "guarda-roupa", "lamp": "luminária", "bathtub": "banheira", "railing": "grade", "cushion": "almofada",
    "base": "base", "box": "caixa", "column": "coluna", "signboard": "letreiro", "chest of drawers": "cômoda",
    "counter": "balcão", "sand": "areia", "sink": "pia", "skyscraper": "arranha-céu", "fireplace": "lareira",
    "refrigerator": "geladeira", "grandstand": "arquibancada", "path": "caminho", "stairs": "escada", "runway": "pista de pouso",
    "case": "vitrine", "pool table": "mesa de sinuca", "pillow": "travesseiro", "screen door": "porta de tela",
    "stairway": "escadaria", "river": "rio", "bridge": "ponte", "bookcase": "estante", "blind": "persiana",
    "coffee table": "mesa de centro", "toilet": "vaso sanitário", "flower": "flor", "book": "livro", "hill": "colina",
    "bench": "banco", "countertop": "bancada", "stove": "fogão", "palm": "palmeira", "kitchen island": "ilha de cozinha",
    "computer": "computador", "swivel chair": "cadeira giratória", "boat": "barco", "bar": "bar",
    "arcade machine": "fliperama", "hovel": "casebre", "bus": "ônibus", "towel": "toalha", "light": "luz",
    "truck": "caminhão", "tower": "torre", "chandelier": "lustre", "awning": "toldo", "streetlight": "poste de luz",
    "booth": "cabine", "television receiver": "televisor", "airplane": "avião", "dirt track": "pista de terra",
    "apparel": "roupa", "pole": "poste", "land": "terreno", "bannister": "corrimão", "escalator": "escada rolante",
    "ottoman": "pufe", "bottle": "garrafa", "buffet": "bufê", "poster": "pôster", "stage": "palco", "van": "van",
    "ship": "navio", "fountain": "chafariz", "conveyer belt": "esteira transportadora", "canopy": "dossel",
    "washer": "máquina de lavar", "plaything": "brinquedo", "swimming pool": "piscina", "stool": "banqueta",
    "barrel": "barril", "basket": "cesto", "waterfall": "cachoeira", "tent": "barraca", "bag": "bolsa",
    "minibike": "minimoto", "cradle": "berço", "oven": "forno", "ball": "bola", "food": "comida", "step": "degrau",
    "tank": "tanque", "trade name": "marca", "microwave": "micro-ondas", "pot": "vaso de planta", "animal": "animal",
    "bicycle": "bicicleta", "lake": "lago", "dishwasher": "lava-louças", "screen": "tela", "blanket": "cobertor",
    "sculpture": "escultura", "hood": "coifa", "sconce": "arandela", "vase": "vaso", "traffic light": "semáforo",
    "tray": "bandeja", "ashcan": "lixeira", "fan": "ventilador", "pier": "píer", "crt screen": "tela CRT",
    "plate": "prato", "monitor": "monitor", "bulletin board": "quadro de avisos", "shower": "chuveiro",
    "radiator": "aquecedor", "glass": "copo", "clock": "relógio", "flag": "bandeira",
}

UNLABELLED = "sem rótulo"

TABLES = {
    palettes.BINARY_CLASSES: BINARY,
    palettes.MEMBRANE_CLASSES: MEMBRANE,
    palettes.VOC_CLASSES: VOC,
    palettes.CITYSCAPES_CLASSES: CITYSCAPES,
    palettes.ADE20K_CLASSES: ADE20K,
}


def portuguese(classes: tuple[str, ...]) -> dict[str, str]:
    """English -> Portuguese for one model's classes (and the "unlabelled" legend entry);
    an unknown class list maps every name to itself."""
    table = TABLES.get(tuple(classes), {})
    return {**{name: table.get(name, name) for name in classes}, UNLABELLED_NAME: UNLABELLED}
